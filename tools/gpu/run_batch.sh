#!/bin/bash
# One GPU batch on the device machine: unpack the bundle, run the CUDA suites and the end-to-end benches,
# logs to $OUT (few files: the device tool brings back a handful). Here, first:
#   scripts/gpu-bundle BUILD .gpu/bundle strata tests/cuda_tests tests/cuda_model_tests bench/cuda_gemm_bench
#   (cd .gpu && tar -cJf bundle.tar.xz bundle && rm -rf bundle); cp tools/gpu/run_batch.sh .gpu/run.sh
#   mamba_ssm's Python source and tools/gpu/mamba_ssm_bench.py in .gpu/peer/ for the peer phase
# and run `bash .gpu/run.sh PHASE...` there carrying .gpu (excluded from git).
# Phases: tests model gemm bench moe long faces peer quick decodeprof profile final.
cd "$(dirname "$0")/.."
mkdir -p /work && ln -sfn "$PWD" /work/main   # STRATA_SOURCE_DIR of the build
tar -xJf .gpu/bundle.tar.xz -C .gpu
export LD_LIBRARY_PATH=$PWD/.gpu/bundle/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
B=.gpu/bundle/bin
nvidia-smi -L > $OUT/peer.log 2>&1
for phase in "$@"; do
  case $phase in
    tests) timeout 100 $B/cuda_tests --gtest_brief=1 > $OUT/tests.log 2>&1; echo "cuda_tests rc=$?" ;;
    model) timeout 150 $B/cuda_model_tests --gtest_brief=1 >> $OUT/tests.log 2>&1; echo "cuda_model_tests rc=$?" ;;
    gemm) timeout 120 $B/cuda_gemm_bench --benchmark_min_time=0.05 > $OUT/gemm_bench.log 2>&1; echo "gemm bench rc=$?" ;;
    bench)
      for m in mamba2-130m mamba2-2.7b; do
        timeout 60 $B/strata bench --device cuda --synthetic $m -p 2048 -b 1,8 -n 0 -r 2 --ubatch 16384 >> $OUT/bench.log 2>&1; echo "bench $m prefill rc=$?"
        timeout 60 $B/strata bench --device cuda --synthetic $m -p 16 -b 1,16,64 -n 256 >> $OUT/bench.log 2>&1; echo "bench $m decode rc=$?"
      done
      timeout 120 $B/strata bench --device cuda --synthetic nemotronh-8b -p 2048 -b 1,16 -n 64 --ubatch 16384 >> $OUT/bench.log 2>&1; echo "bench 8b rc=$?"
      timeout 60 $B/strata bench --device cuda --synthetic nemotronh-moe-1b -p 512 -b 1,8 -n 64 >> $OUT/bench.log 2>&1; echo "bench moe rc=$?" ;;
    moe)
      { timeout 60 $B/strata bench --device cuda --synthetic nemotronh-moe-1b -p 512 -b 1,8 -n 64
        timeout 60 $B/strata bench --device cuda --synthetic mamba2-2.7b -p 16 -b 1,64 -n 128; } >> $OUT/bench.log 2>&1; echo "moe rc=$?" ;;
    long)
      { for m in mamba2-130m mamba2-2.7b nemotronh-8b; do timeout 60 $B/strata bench --device cuda --synthetic $m -p 8192 -b 1 -n 0 -r 2 --ubatch 16384; done
        timeout 90 $B/strata bench --device cuda --synthetic nemotronh-8b -p 2048 -b 8 -n 0 --ubatch 16384
        timeout 90 $B/strata bench --device cuda --synthetic nemotronh-8b -p 16 -b 64 -n 128
        PREFILL_ONLY=1 timeout 120 python3 .gpu/peer/mamba_ssm_bench.py mamba2-130m mamba2-2.7b 2>&1 | grep -v Warn; } >> $OUT/bench.log 2>&1; echo "long rc=$?" ;;
    faces)
      { for d in cpu cuda; do echo "== run --device $d"; timeout 60 $B/strata run models/demo --device $d -p "Once upon a time" -n 48 --temperature 0 --verbose; echo " rc=$?"; done
        for d in cpu cuda; do echo "== perplexity --device $d"; timeout 60 $B/strata perplexity models/demo -f models/demo/heldout.txt --context 256 --max-windows 8 --device $d; echo " rc=$?"; done
        echo "== serve --device cuda"; ($B/strata serve models/demo --device cuda --port 8089 & echo $! > /tmp/serve.pid); sleep 4
        curl -s localhost:8089/v1/completions -H 'Content-Type: application/json' -d '{"prompt":"Once upon a time","max_tokens":24,"temperature":0}'; echo
        curl -s localhost:8089/v1/chat/completions -H 'Content-Type: application/json' -d '{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":24,"temperature":0}'; echo
        kill $(cat /tmp/serve.pid); sleep 1
        echo "== cuda:3"; $B/strata run models/demo --device cuda:3 -p hi -n 2; echo " rc=$?"
      } > $OUT/faces.log 2>&1 ;;
    quick)  # the 2.7b rows only: prefill B1/B8 x 2048 and B1 x 8192, decode B1/16/64
      { timeout 60 $B/strata bench --device cuda --synthetic mamba2-2.7b -p 2048 -b 1,8 -n 0 -r 2 --ubatch 16384
        timeout 60 $B/strata bench --device cuda --synthetic mamba2-2.7b -p 8192 -b 1 -n 0 -r 2 --ubatch 16384
        timeout 60 $B/strata bench --device cuda --synthetic mamba2-2.7b -p 16 -b 1,16,64 -n 256
        echo "== without programmatic dependent launch"
        STRATA_CUDA_PDL=0 timeout 60 $B/strata bench --device cuda --synthetic mamba2-2.7b -p 16 -b 1,64 -n 256
        echo "== without the conv fused into in_proj"
        STRATA_CUDA_FUSE_CONV=0 timeout 60 $B/strata bench --device cuda --synthetic mamba2-2.7b -p 16 -b 1,64 -n 256
        echo "== with the norms folded into the skinny GEMM (STRATA_CUDA_FUSE_NORM=1)"
        STRATA_CUDA_FUSE_NORM=1 timeout 60 $B/strata bench --device cuda --synthetic mamba2-2.7b -p 16 -b 1 -n 256; } >> $OUT/bench.log 2>&1; echo "quick rc=$?" ;;
    decodeprof)  # kernel durations of steady B1 decode steps, summed per kernel and grid
      timeout 150 ncu --clock-control none --metrics gpu__time_duration.sum --csv --launch-skip 1400 --launch-count 400 \
        $B/strata bench --device cuda --synthetic mamba2-2.7b -p 16 -b 1 -n 12 -r 1 2>/dev/null | grep '^"' | python3 -c "
import csv, sys, collections
rows = list(csv.reader(sys.stdin))[1:]
agg = collections.defaultdict(lambda: [0, 0.0])
for r in rows:
    key = r[4][:90] + ' ' + r[8]; agg[key][0] += 1; agg[key][1] += float(r[14].replace(',', ''))
for k, (n, t) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:16]: print(f'{n:5d} {t/1e3:9.1f} us {t/n/1e3:7.2f} us/call  {k}')
" > $OUT/decode_profile.txt 2>&1; echo "decodeprof rc=$?" ;;
    profile)  # kernel durations (ncu, no clock control) of a 2.7b B8 x 2048 prefill and of B1 decode steps
      prefill=(-p 2048 -b 8 -n 0 -r 1 --ubatch 16384); decode=(-p 16 -b 1 -n 6 -r 1)
      for name in prefill decode; do
        unset -n flags; declare -n flags=$name
        timeout 150 ncu --clock-control none --metrics gpu__time_duration.sum --csv --launch-count 1800 \
          $B/strata bench --device cuda --synthetic mamba2-2.7b "${flags[@]}" > $OUT/prof_$name.csv 2> $OUT/prof_$name.err
        echo "profile $name rc=$?"; xz -f $OUT/prof_$name.csv
      done ;;
    final)  # one call's worth, most important first (a killed call still returns what it wrote)
      { S="timeout 60 $B/strata bench --device cuda --synthetic"
        $S mamba2-2.7b -p 16 -b 1,16,64 -n 256; $S mamba2-2.7b -p 2048 -b 1,8 -n 0 -r 2 --ubatch 16384
        $S mamba2-2.7b -p 8192 -b 1 -n 0 -r 2 --ubatch 16384; } >> $OUT/bench.log 2>&1; echo "final 2.7b rc=$?"
      timeout 150 python3 .gpu/peer/mamba_ssm_bench.py mamba2-2.7b >> $OUT/peer.log 2>&1; echo "peer 2.7b rc=$?"
      { S="timeout 60 $B/strata bench --device cuda --synthetic"
        $S mamba2-130m -p 16 -b 1,16,64 -n 256; $S mamba2-130m -p 2048 -b 1,8 -n 0 -r 2 --ubatch 16384
        $S mamba2-130m -p 8192 -b 1 -n 0 -r 2 --ubatch 16384
        $S nemotronh-8b -p 2048 -b 1,16 -n 64 --ubatch 16384; $S nemotronh-8b -p 16 -b 64 -n 128
        $S nemotronh-8b -p 2048 -b 8 -n 0 --ubatch 16384; $S nemotronh-8b -p 8192 -b 1 -n 0 -r 2 --ubatch 16384
        $S nemotronh-moe-1b -p 512 -b 1,8 -n 64; } >> $OUT/bench.log 2>&1; echo "final others rc=$?" ;;
    peer) timeout 200 python3 .gpu/peer/mamba_ssm_bench.py mamba2-130m mamba2-2.7b >> $OUT/peer.log 2>&1; echo "peer rc=$?" ;;
  esac
done
