# The two commands of the README: `make run` runs the app, `make test` runs the tests.
# Each installs what it needs (virtualenv, pip packages, Dovecot for tests) first.
.PHONY: run test lint bootstrap

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	.venv/bin/python scripts/run.py

test: bootstrap
	@bash scripts/ensure_system_packages.sh
	.venv/bin/python scripts/with_redis.py .venv/bin/pytest $(ARGS)

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy .
