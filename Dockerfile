# The production image: gunicorn for web, the same image for worker, beat and idle.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 WEBMAIL_DATA_DIR=/data
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only WEBMAIL_CREDENTIAL_KEYS=YnVpbGQtb25seS1rZXktMzItYnl0ZXMtbG9uZy0xMjM= \
    python manage.py collectstatic --noinput -v0
RUN useradd --system --home /app webmail && mkdir -p /data && chown webmail /data
USER webmail
EXPOSE 8000
CMD ["gunicorn", "webmail.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
