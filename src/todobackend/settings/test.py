"""Test settings: MySQL, configured from the environment."""
import os

from .base import *  # noqa: F401,F403

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.mysql',
        'NAME': os.environ.get('MYSQL_DATABASE', 'todobackend'),
        'USER': os.environ.get('MYSQL_USER', 'todo'),
        'PASSWORD': os.environ.get('MYSQL_PASSWORD', 'password'),
        'HOST': os.environ.get('MYSQL_HOST', 'localhost'),
        'PORT': os.environ.get('MYSQL_PORT', '3306'),
        'OPTIONS': {'init_command': "SET sql_mode='STRICT_TRANS_TABLES'"},
        # The database is throw-away and the user may only touch its own (the mysql image's
        # contract): the tests use it rather than creating test_<name>.
        'TEST': {'NAME': os.environ.get('MYSQL_DATABASE', 'todobackend')},
    }
}
