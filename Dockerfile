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
ENV S3RB_TABLES_FILE=/app/conf/tables.yml
ENTRYPOINT ["s3rb-stream"]
CMD ["--help"]
