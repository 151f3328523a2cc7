# Image for the *workflow job*: miniwdl + miniwdl-aws + miniwdl-aws.cfg, launched on a Fargate
# queue by miniwdl_submit_awsbatch. Build from the repository root (the build context must hold
# setup.py and miniwdl_aws/):
#
#   docker build -t miniwdl-aws:v$(python3 setup.py --version) .
#
# No architecture-specific step: every dependency ships wheels for x86_64 and arm64, so
# `docker buildx build --platform linux/amd64,linux/arm64` works unchanged.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- stage 1: build our wheel from the build context (never from PyPI) ---
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY setup.py pyproject.toml README.md LICENSE ./
COPY miniwdl_aws ./miniwdl_aws
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- stage 2: runtime ---
FROM ${PYTHON_IMAGE}
# Keep VERSION equal to miniwdl_aws.__version__ (tests/test_image.py checks it); the submitter's
# default image tag is derived from the same version.
ARG VERSION=1.0.0
LABEL org.opencontainers.image.title="miniwdl-aws" \
      org.opencontainers.image.description="miniwdl workflow runner for AWS Batch + EFS" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

# Pinned runtime dependencies (the set `pip install miniwdl-aws` resolves to), so that an image
# rebuilt later behaves the same; tests/test_image.py installs exactly these into a fresh venv.
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-compile \
        argcomplete==3.7.2 \
        boto3==1.44.8 \
        botocore==1.44.8 \
        certifi==2026.10.19.post1 \
        charset-normalizer==3.5.3 \
        coloredlogs==15.0.1 \
        docker==7.2.0 \
        humanfriendly==10.0 \
        idna==3.20 \
        jmespath==1.1.0 \
        lark==1.3.1 \
        miniwdl==1.16.0 \
        prompt_toolkit==3.0.53 \
        psutil==7.2.2 \
        python-dateutil==2.9.0.post0 \
        python-json-logger==4.2.0 \
        questionary==2.1.1 \
        regex==2026.11.19 \
        requests==2.34.2 \
        ruamel.yaml==0.19.1 \
        s3transfer==0.19.3 \
        six==1.17.0 \
        urllib3==2.8.0 \
        wcwidth==0.9.4 \
        xdg==6.0.0 \
        /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels

# miniwdl reads the file named by MINIWDL_CFG; MINIWDL__* env vars passed by the submitter
# still override any option in it.
COPY miniwdl-aws.cfg /etc/miniwdl-aws.cfg
ENV MINIWDL_CFG=/etc/miniwdl-aws.cfg \
    PYTHONUNBUFFERED=1

# The submitter sets the job's command to `miniwdl-aws-workflow <miniwdl run args...>`; this
# default only documents the entry point when the image is run by hand.
CMD ["miniwdl-aws-workflow", "--help"]
