# The production image: gunicorn for web; the same image runs worker, beat and idle.
# Base images are arguments so a mirror or a locally built Debian image can stand in.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# Browser assets (Trix) from the npm registry, pinned by package-lock.json: served by
# whitenoise from our own origin, never from a CDN.
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/build_assets.sh scripts/
RUN bash scripts/build_assets.sh

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WEBMAIL_DATA_DIR=/data PATH=/opt/venv/bin:$PATH
WORKDIR /app
# pg_dump and pg_restore for `manage.py backup` / `restore` (Debian's 15, as the server).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
# A virtualenv: works the same on the python image and on Debian's own python3.
RUN python3 -m venv /opt/venv
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=assets /src/static/vendor static/vendor
# Throwaway secrets: collectstatic needs settings, not the real keys.
RUN SECRET_KEY=build-only WEBMAIL_DATA_DIR=/tmp/build-data \
    WEBMAIL_CREDENTIAL_KEYS=YnVpbGQtb25seS1rZXktMzItYnl0ZXMtbG9uZy0xMjM= \
    python manage.py collectstatic --noinput -v0 && rm -rf /tmp/build-data
# /data/blobs exists and belongs to webmail, so a new named volume mounted there does too.
RUN useradd --system --home /app webmail && mkdir -p /data/blobs && chown -R webmail /data
USER webmail
EXPOSE 8000
CMD ["gunicorn", "webmail.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
