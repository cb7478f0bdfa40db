# relink-api as a container. Give it the Stripe settings (STRIPE_SECRET_KEY,
# STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET, RELINK_AUTH_JWT_SECRET or RELINK_AUTH_JWKS_URL):
# without a key `serve` refuses to start, and it never becomes the sandbox unless
# RELINK_SANDBOX=true and, as it listens on every address, RELINK_SANDBOX_ALLOW_REMOTE=true.
# Point DATABASE_URL at your PostgreSQL; without it the embedded server keeps its data in
# /data (mount a volume there). docs/deploy.md runs several replicas behind a proxy.
#
# Every package comes from a lock with hashes (requirements/, written by scripts/lock), and
# pip installs with --require-hashes and --no-deps: nothing unlocked gets in, not even the
# build backend.

# The wheel of relink-api itself, built with the locked backend (no build isolation, which
# would fetch an unpinned hatchling).
FROM python:3.11-slim-bookworm AS wheel
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements/build.txt ./requirements/build.txt
RUN pip install --require-hashes --no-deps -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY src ./src
COPY static ./static
COPY docs/problems.md ./docs/problems.md
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELINK_HOST=0.0.0.0 \
    RELINK_PORT=8000 \
    RELINK_DATA_DIR=/data

RUN useradd --create-home --uid 10001 relink && mkdir /data && chown relink /data
# The dependencies first, in a layer of their own: it is rebuilt only when the lock changes.
COPY requirements/image.txt /tmp/image.txt
RUN pip install --require-hashes --no-deps -r /tmp/image.txt && rm /tmp/image.txt
# `pip check` fails the build if the lock lacks something relink-api needs.
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -r /tmp/wheels && pip check

# The uid of the user made above: a numeric USER lets an orchestrator check it is not root.
USER 10001
WORKDIR /home/relink
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ['RELINK_PORT'], timeout=2)"]
CMD ["relink-api", "serve"]
