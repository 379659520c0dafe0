# The baseline of `cargo xtask bench`: the lab's development image as the first slice wrote
# it (the lab's Dockerfile on bookworm's package names), frozen here so that improving the
# product never moves the baseline. Built FROM the fixture's own base image.
FROM todobackend-bench-lab-base:latest
LABEL todobackend.image=bench-lab-dev

ARG DEBIAN_FRONTEND=noninteractive

# Install dev/build dependencies (mysqlclient compiles against the MySQL client headers)
RUN apt-get update && \
    apt-get install -qy --no-install-recommends python3-dev gcc libc6-dev default-libmysqlclient-dev pkg-config && \
    rm -rf /var/lib/apt/lists/*

# Activate virtual environment and install wheel support
RUN . /appenv/bin/activate && \
    pip install --no-cache-dir --upgrade wheel

# PIP environment variables (NOTE: must be set after installing wheel)
ENV WHEELHOUSE=/wheelhouse PIP_WHEEL_DIR=/wheelhouse PIP_FIND_LINKS=/wheelhouse XDG_CACHE_HOME=/cache

# OUTPUT: Build artifacts (Wheels) are output here
VOLUME /wheelhouse

# Set defaults for entrypoint and command string
COPY scripts/test.sh /usr/local/bin/test.sh
ENTRYPOINT ["test.sh"]
CMD ["python", "manage.py", "test", "--noinput"]

# Add application source last: it changes most often
COPY src /application
WORKDIR /application
