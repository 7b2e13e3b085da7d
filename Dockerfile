# cniguard container image. Two stages on the same Debian base:
#   builder: builds the cniguard wheel and the wheels of every dependency (needs the network);
#   final:   installs those wheels into a venv with --no-index, drops pip, runs as a non-root user.
# The final image holds no compiler, no pip, no source tree. `make image` builds it (scripts/build_image.sh).
#
# BASE is any Debian bookworm image with python3, python3-venv and ca-certificates: the build script
# makes one with debootstrap when no registry is reachable; with a registry, debian:bookworm-slim
# plus those packages does the same.
ARG BASE=localhost/cniguard-base:bookworm

FROM ${BASE} AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The secret `ca` is an optional CA bundle for a TLS-inspecting proxy between the build and PyPI;
# it is mounted for this step only and never stored in a layer.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
 && python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --no-cache-dir --quiet --wheel-dir /wheels .

FROM ${BASE}
ARG VERSION=0.0.0
LABEL org.opencontainers.image.title="cniguard" \
      org.opencontainers.image.description="Audits the IAM permissions of the Amazon EKS VPC CNI (aws-node)." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python3 -m venv /opt/cniguard \
 && /opt/cniguard/bin/pip install --no-cache-dir --quiet --no-index --find-links=/wheels \
      "cniguard==${VERSION}" \
 && /opt/cniguard/bin/pip uninstall --yes --quiet pip setuptools \
 && dpkg --purge python3-venv python3.11-venv python3-pip-whl python3-setuptools-whl >/dev/null \
 && groupadd --gid 10001 cniguard \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin cniguard
ENV PATH=/opt/cniguard/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# numeric, so that runAsNonRoot can verify it without reading /etc/passwd
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["cniguard"]
CMD ["--help"]
