# syntax=docker/dockerfile:1

# One image for the four services; the command picks which ones a container runs.
ARG PYTHON_IMAGE=python:3.11-slim

# -- build: wheels for the project and its pinned dependencies -------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# Only what the package build reads (README.md is the project's readme in pyproject.toml).
COPY pyproject.toml README.md ./
COPY allodiscri ./allodiscri
COPY services ./services
RUN pip wheel --wheel-dir /wheels .

# -- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN groupadd --system --gid 10001 allodiscri \
    && useradd --system --uid 10001 --gid allodiscri --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin allodiscri
# Installs from the build stage's wheels only (they stay out of the image), then imports the
# four services and the log formatter named in config.yml.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels allodiscri \
    && python -W ignore -c "import pkg_resources, allodiscri.platform.logs, services.intake.service, \
services.cases.service, services.referrals.service, services.reporting.service"
WORKDIR /app
COPY config.yml ./
COPY examples ./examples
USER 10001:10001
# Default: the whole platform in one process; docker-compose.yml runs one service a container.
CMD ["nameko", "run", "--config", "config.yml", \
     "services.intake.service", "services.cases.service", \
     "services.referrals.service", "services.reporting.service"]
