FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY s3rb_stream ./s3rb_stream
RUN pip install --no-cache-dir . && useradd --system --home /app s3rb && mkdir -p /app/data && chown s3rb /app/data
COPY conf ./conf
USER s3rb
ENV S3RB_TABLES_FILE=/app/conf/tables.yml
ENTRYPOINT ["s3rb-stream"]
CMD ["--help"]
