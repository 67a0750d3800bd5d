FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY s3rb_stream ./s3rb_stream
# mysqlclient builds against the MariaDB client library; the build tools leave with the layer.
RUN apt-get update && apt-get install -y --no-install-recommends libmariadb3 libmariadb-dev pkg-config gcc \
    && pip install --no-cache-dir . \
    && apt-get purge -y libmariadb-dev pkg-config gcc && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app s3rb && mkdir -p /app/data && chown s3rb /app/data
COPY conf ./conf
USER s3rb
ENV S3RB_TABLES_FILE=/app/conf/tables.yml S3RB_METRICS_PORT=9108 S3RB_LOG_FORMAT=json
EXPOSE 9108
# /healthz answers 200 while the pipeline makes progress (see deploy/metrics.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
# SIGTERM flushes, saves the checkpoint and exits 0; give it time.
STOPSIGNAL SIGTERM
ENTRYPOINT ["s3rb-stream"]
CMD ["--help"]
