#!/usr/bin/env bash
# The one prepared run for a lent GPU (issue 35; /work/.library/device/README.md): the CUDA tests,
# then the grouped trainer's figures, then torch.compile on the step, each part held to its own
# time so that the whole stays near 5 minutes and leaves room to run it again in a session's
# 15 minutes of device time. What it prints comes back in the run's output; the JSON and logs are
# copied to $OUT.
#
# The device image has torch, numpy, pandas, pytest, pytest-timeout, onnx and nvidia-ml-py, not
# this project's other dependencies: they travel as wheels in .whl/ (ignored by git), made once
# here with
#   echo /.whl/ >> .git/info/exclude
#   .venv/bin/python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#     optuna==5.0.0 sqlalchemy==2.1.9 alembic==1.20.1 mako==1.4.3 colorlog==6.12.0 mlxtend==0.25.0 \
#     yacs==0.1.8 termcolor==3.3.0
#   .venv/bin/python -m pip wheel --no-deps -w .whl fvcore==0.1.5.post20221221 iopath==0.1.10
# and the run is
#   run(command="bash bench/gpu_session.sh", carry=[".whl"], timeout_s=400)
set -uo pipefail
OUT=${OUT:-results/gpu_session}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, optuna, fvcore; print('torch', torch.__version__, 'optuna', optuna.__version__)"

part() {  # part NAME SECONDS COMMAND...: one part, its log in $OUT, stopped at its time
  local name=$1 seconds=$2; shift 2
  echo "== $name (at most ${seconds} s)"
  timeout --signal=INT --kill-after=10 "$seconds" "$@" 2>&1 | tee "$OUT/$name.log" | tail -40
}
# Sized by the first lent run (2026-12-04, H200): the CUDA tests need more than 90 s (two of nine
# in that time), 48 trials of --group 1 more than 150 s, and compiling mnasnet_tiny's step took
# 25.8 s for x0.97 eager; so the group figures come first, smaller, each row saved as measured.
part gpu_group 210 python3 -m bench.gpu_group group k=4,8 trials=16
part cuda_tests 130 python3 -m pytest -v -p no:cacheprovider --durations=0 --timeout=60 tests/test_cuda.py
cp results/bench/gpu_group.json results/bench/gpu_group_partial.json "$OUT/" 2>/dev/null
ls -la "$OUT"
