"""Test settings: MySQL, configured from the environment (the password from a file with
MYSQL_PASSWORD_FILE)."""
import os

from .base import *  # noqa: F401,F403

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.mysql',
        'NAME': os.environ.get('MYSQL_DATABASE', 'todobackend'),
        'USER': os.environ.get('MYSQL_USER', 'todo'),
        'PASSWORD': from_env('MYSQL_PASSWORD', 'password'),
        'HOST': os.environ.get('MYSQL_HOST', 'localhost'),
        'PORT': os.environ.get('MYSQL_PORT', '3306'),
        'OPTIONS': {'init_command': "SET sql_mode='STRICT_TRANS_TABLES'"},
        # The tests make Django's own test database, test_<NAME> (and test_<NAME>_1..N for
        # `--parallel N`), never the user's: the database image grants the user those too.
    }
}
