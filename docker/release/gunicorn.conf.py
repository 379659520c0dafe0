# gunicorn's settings in the release image (docker/release/Dockerfile). Each can be overridden
# at `docker run` with GUNICORN_CMD_ARGS, e.g. `-e GUNICORN_CMD_ARGS="--workers 8"`.
import os

bind = '0.0.0.0:8000'

# Threads in a few processes: a request mostly waits on the database, and unlike sync workers
# threaded ones keep HTTP connections alive. WEB_CONCURRENCY sets the processes.
worker_class = 'gthread'
workers = int(os.environ.get('WEB_CONCURRENCY', (os.cpu_count() or 1) + 1))
threads = 4

# Django is imported once, before the workers fork: they start in milliseconds, not seconds.
preload_app = True

# On SIGTERM (`docker stop`) workers finish the requests in flight, for at most this long,
# then exit. Well under docker's 10 s, after which it would SIGKILL and cut them off.
graceful_timeout = 5

# Requests to stdout, gunicorn's own messages to stderr: `docker logs` shows both.
accesslog = '-'
errorlog = '-'
# Behind a proxy (or the acceptance tests), the client's address is what the log shows.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# No control socket (`gunicornc`): it would live in a home the app's user does not have, and
# the container is managed through docker, not through it.
control_socket_disable = True
