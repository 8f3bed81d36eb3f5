# mamba_ssm's end-to-end mamba2 numbers on this GPU, the same runs as anchors_h200.md: prefill
# (forward of B x L tokens) and CUDA-graph decode (generate(cg=True)), random bf16 weights.
# The peer for `strata bench --device cuda`. Needs torch, triton, einops and the mamba_ssm package
# (state-spaces/mamba e9594ce, its Python source: `git archive HEAD mamba_ssm | tar -x -C DIR`) beside
# this file; its optional CUDA extensions are not needed (use_mem_eff_path=False takes torch's conv1d).
#   python3 mamba_ssm_bench.py mamba2-130m mamba2-2.7b      (PREFILL_ONLY=1: just B1x8192 prefill)
import os, sys, time, types, torch
sys.path.insert(0, __file__.rsplit("/", 1)[0])
for name in ["selective_scan_cuda", "causal_conv1d", "causal_conv1d_cuda"]:
    pass
from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel
from mamba_ssm.models.config_mamba import MambaConfig

def model_for(name):
    d, n = {"mamba2-130m": (768, 24), "mamba2-2.7b": (2560, 64)}[name]
    cfg = MambaConfig(d_model=d, n_layer=n, vocab_size=50277, ssm_cfg={"layer": "Mamba2", "use_mem_eff_path": False},
                      rms_norm=True, residual_in_fp32=True, fused_add_norm=True, pad_vocab_size_multiple=16)
    return MambaLMHeadModel(cfg, device="cuda", dtype=torch.bfloat16).eval()

def timed(fn, reps):
    fn(); torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps): fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps

for name in sys.argv[1:]:
    m = model_for(name)
    with torch.inference_mode():
        for b, l in ([(1, 8192)] if os.environ.get("PREFILL_ONLY") else [(1, 2048), (8, 2048), (1, 8192)]):
            ids = torch.randint(0, 50000, (b, l), device="cuda")
            s = timed(lambda: m(ids), 5)
            print(f"{name} prefill B{b}x{l}: {b*l/s:,.0f} tok/s", flush=True)
        for b in ([] if os.environ.get("PREFILL_ONLY") else [1, 16, 64]):
            ids = torch.randint(0, 50000, (b, 16), device="cuda")
            n = 128
            gen = lambda: m.generate(ids, max_length=16 + n, cg=True, temperature=1.0, top_k=1)
            gen(); torch.cuda.synchronize()
            t = time.perf_counter(); gen(); torch.cuda.synchronize(); dt = time.perf_counter() - t
            print(f"{name} decode B{b}: {b*n/dt:,.0f} tok/s (incl. 16-token prefill)", flush=True)
    del m; torch.cuda.empty_cache()
