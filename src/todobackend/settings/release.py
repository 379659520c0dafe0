"""Release settings: the release image runs these (docker/release/). Nothing insecure has a
default: SECRET_KEY (DJANGO_SECRET_KEY, or the file DJANGO_SECRET_KEY_FILE names) and
ALLOWED_HOSTS come from the environment and the app refuses to start without them; the
database is MySQL from MYSQL_*, as in the test settings."""
import os

from .test import *  # noqa: F401,F403

DEBUG = False

SECRET_KEY = from_env('DJANGO_SECRET_KEY')
if not SECRET_KEY:
    raise RuntimeError('DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE, a file holding it) is required')

# Comma-separated host names the app answers to, e.g. `todos.example.com,app`.
ALLOWED_HOSTS = [host.strip() for host in os.environ['DJANGO_ALLOWED_HOSTS'].split(',') if host.strip()]

# gunicorn writes requests to stdout; Django's own warnings and errors go to stderr, for
# `docker logs` and whatever collects them.
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler'}},
    'root': {'handlers': ['console'], 'level': 'WARNING'},
}

# Each gunicorn thread keeps its database connection between requests: opening one (TCP, the
# handshake, `init_command`) cost more than listing the todos, and under load it was most of
# a request's time (`cargo xtask bench`: 430 req/s without, about 1000 with, on 2 cores).
# Checked before reuse, so a database that restarted costs a reconnect, not a failed request.
# MariaDB drops idle connections after `wait_timeout` (8 h), well after this.
DATABASES['default']['CONN_MAX_AGE'] = int(os.environ.get('DJANGO_CONN_MAX_AGE', '600'))
DATABASES['default']['CONN_HEALTH_CHECKS'] = True
