# Two stages. The build stage installs the dependencies first, pinned by constraints.txt (the file
# scripts/setup.sh installs with too), then the code: a code change reinstalls only the package.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# mysqlclient builds against the MariaDB client library; the build tools stay in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb-dev pkg-config gcc \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/s3rb-stream
WORKDIR /src
COPY constraints.txt pyproject.toml ./
# The runtime dependencies pyproject.toml names, at the versions constraints.txt pins.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/s3rb-stream/bin/pip install -r requirements.txt -c constraints.txt
# setup.py builds the compiled row decoder (Cython, with this stage's gcc). S3RB_REQUIRE_SPEEDUPS
# makes a failed compile fail the build, and the import proves the module is in the image: an image
# never ships the slower pure-Python references unnoticed (-I: not the source tree in /src).
COPY README.md setup.py ./
COPY s3rb_stream ./s3rb_stream
RUN S3RB_REQUIRE_SPEEDUPS=1 /opt/s3rb-stream/bin/pip install --no-deps . \
    && /opt/s3rb-stream/bin/python -I -c "import s3rb_stream._speedups"

FROM python:3.11-slim
# The MariaDB client library mysqlclient links to; a numeric user, so that Kubernetes can check
# runAsNonRoot without resolving a name.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 s3rb \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home s3rb \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data
COPY --from=build /opt/s3rb-stream /opt/s3rb-stream
COPY conf /app/conf
WORKDIR /app
USER 10001:10001
ENV PATH=/opt/s3rb-stream/bin:$PATH \
    S3RB_TABLES_FILE=/app/conf/tables.yml S3RB_METRICS_PORT=9108 S3RB_LOG_FORMAT=json
EXPOSE 9108
# /healthz answers 200 while every part of the pipeline is alive (see deploy/metrics.md), on the
# port S3RB_METRICS_PORT names.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('S3RB_METRICS_PORT', '9108'), timeout=4)"]
# SIGTERM flushes, saves the checkpoint and exits 0; give it time.
STOPSIGNAL SIGTERM
ENTRYPOINT ["s3rb-stream"]
CMD ["--help"]
