# Every target sets up what it needs from nothing: a fresh clone runs `make demo` or `make test`.
# POSIX make syntax only (GNU make, macOS's make, BSD make); demo/lab/app call `python -m ...` rather than
# console scripts. Without make (Windows), README's "Install with pip" runs the same commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_TIME_LIMIT ?= 180
FSDD ?= ../shared/data/fsdd

.PHONY: install models models-if-online demo test test-fast lab app app-check bench bench-suite bench-portfolio clean browser-deps

# the editable install maps the packages present when it ran: a new top-level package means reinstall
$(STAMP): pyproject.toml autoasr/__init__.py widgets/__init__.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch 2.14.1 + torchaudio 2.11.0 is the pair measured to work together (DESIGN.md)
	$(BIN)/python -m pip install --quiet -e ".[notebook,test,ray]"
	touch $(STAMP)

install: $(STAMP)

browser-deps:
	# Debian's Chromium drives the real-browser tests (Playwright's own browser download is blocked here)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# the pretrained listener (openai/whisper-tiny.en, safetensors/config/tokenizer only) into the Hugging Face cache, once;
# `make models` fails when it cannot (offline classroom: README, "Pretrained listeners"); demo and lab go on without it
models: $(STAMP)
	$(BIN)/python -m autoasr.cli models

models-if-online: $(STAMP)
	@$(BIN)/python -m autoasr.cli models || echo "(no pretrained listener: autoasr trains from scratch and says so; see README, 'Pretrained listeners')"

demo: $(STAMP) models-if-online
	$(BIN)/python -m autoasr.cli demo --time-limit $(DEMO_TIME_LIMIT) --output autoasr_runs/demo

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q --durations=25

# the fast tier, for between two edits (under 2 minutes): no fits of several seconds, no browser, no Ray
# (tests marked slow, browser or ray in tests/; `make test` runs them all)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser and not ray" --durations=10

lab: $(STAMP) models-if-online
	$(BIN)/python -m jupyterlab --ip=127.0.0.1 --no-browser notebooks/

APP_PORT ?= 8866
# loopback by default; a room: `make app APP_IP=0.0.0.0 APP_TOKEN=$$(openssl rand -hex 16)` (README: security)
APP_IP ?= 127.0.0.1
APP_TOKEN ?=
app-check:
	@case "$(APP_IP)" in 127.*|localhost|::1) ;; *) test -n "$(APP_TOKEN)" || { \
	  echo "make app: APP_IP=$(APP_IP) lets other machines in; give APP_TOKEN=<secret> too (see README)"; exit 2; } ;; esac

app: app-check $(STAMP)
	# the wizard as a web page without code (Voila), for rooms where participants should not see Python
	$(BIN)/python -m voila notebooks/app.ipynb --no-browser --Voila.ip=$(APP_IP) --port=$(APP_PORT) --Voila.token="$(APP_TOKEN)"

# the development suite: presets scored on unseen speakers of several corpora (benchmarks/suite.py --help);
# the full default is 2 presets x 3 seeds x (5 FSDD rotations + 4 corpora) fits of SUITE_TIME_LIMIT s each
SUITE_TIME_LIMIT ?= 180
SUITE_SEEDS ?= 0,1,2
SUITE_ARGS ?=
SHARED_DATA ?= ../shared/data
bench-suite: $(STAMP)
	$(BIN)/python benchmarks/suite.py --shared $(SHARED_DATA) --time-limit $(SUITE_TIME_LIMIT) --seeds $(SUITE_SEEDS) \
		--output docs/benchmarks.md $(SUITE_ARGS)

# every candidate configuration trained on every suite corpus; the portfolio chosen leave-one-corpus-out
PORTFOLIO_CORPORA ?= fsdd,sc_small,demo,espeak_es
bench-portfolio: $(STAMP)
	$(BIN)/python benchmarks/portfolio_loco.py --shared $(SHARED_DATA) --corpora $(PORTFOLIO_CORPORA) \
		--trial-seconds 30 --size 3 --output docs/benchmarks.md

bench: $(STAMP) bench-suite bench-portfolio
	$(BIN)/python benchmarks/run_benchmarks.py --fsdd $(FSDD) --output docs/benchmarks.md

clean:
	rm -rf $(VENV) autoasr_runs .pytest_cache
