# The README's commands. Needs Python 3.11+ and make; everything else is installed into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick lint check bench clean translations translations-extract \
	translations-update translations-compile

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hotline needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/hotline run

test: $(STAMP)
	$(BIN)/python -m pytest

test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check hotline workers tests bench
	$(BIN)/mypy

check: $(STAMP)
	$(BIN)/hotline check

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The console's catalogues (hotline/console/translations/): after changing its strings, `make
# translations` extracts them, adds the new ones to each language's messages.po (translate them
# there), and compiles the .mo files the console reads (committed; a test checks they match).
CONSOLE := hotline/console
TRANSLATIONS := $(CONSOLE)/translations

translations: translations-update translations-compile

translations-extract: $(STAMP)
	@mkdir -p var
	$(BIN)/pybabel extract -w 100 -F $(CONSOLE)/babel.cfg -k _l --add-location=file \
		--project=hotline --copyright-holder="hotline's authors" -o var/console.pot $(CONSOLE)

translations-update: translations-extract
	$(BIN)/pybabel update --ignore-obsolete -w 100 -i var/console.pot -d $(TRANSLATIONS)

translations-compile: $(STAMP)
	$(BIN)/pybabel compile --statistics -d $(TRANSLATIONS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
