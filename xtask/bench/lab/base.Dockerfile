# The baseline's base image: the first slice's, frozen for `cargo xtask bench`.
# OS_IMAGE is a registry's debian:bookworm-slim where one answers, or the image that
# `cargo xtask base-image` builds from Debian packages where none does.
ARG OS_IMAGE=debian:bookworm-slim
FROM ${OS_IMAGE}
LABEL application=todobackend todobackend.image=bench-lab-base

ARG DEBIAN_FRONTEND=noninteractive

# Extra CAs the host trusts (e.g. a TLS-inspecting proxy); installing ca-certificates
# below adds them to the system bundle. Empty when built by hand.
COPY docker/base/host-ca/ /usr/local/share/ca-certificates/

# Install the Python runtime and the MySQL client library mysqlclient links against
RUN apt-get update && \
    apt-get install -qy --no-install-recommends ca-certificates python3 python3-venv libmariadb3 && \
    rm -rf /var/lib/apt/lists/*

# pip keeps its own CA list unless told to use the system's
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1

# Create the virtual environment and upgrade pip in it
RUN python3 -m venv /appenv && \
    . /appenv/bin/activate && \
    pip install --no-cache-dir --upgrade pip

COPY scripts/entrypoint.sh /usr/local/bin/entrypoint.sh
ENTRYPOINT ["entrypoint.sh"]
