"""Base settings: local development with SQLite."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent



def from_env(name, default=None):
    """The value of the environment variable NAME, or else the contents of the file that
    NAME_FILE names (a swarm secret mounted as a file: `cargo xtask deploy`), or else
    `default`. Both set is an error, as in the database image."""
    value, path = os.environ.get(name), os.environ.get(f'{name}_FILE')
    if value is not None and path is not None:
        raise RuntimeError(f'both {name} and {name}_FILE are set: give one')
    if path is not None:
        with open(path, encoding='utf-8') as file:
            return file.read().rstrip('\n')
    return default if value is None else value


SECRET_KEY = from_env('DJANGO_SECRET_KEY', 'django-insecure-dev-only-change-me')

DEBUG = os.environ.get('DEBUG', 'true').lower() in ('1', 'true', 'yes')

ALLOWED_HOSTS = ['*']

INSTALLED_APPS = [
    'django.contrib.contenttypes',
    'django.contrib.auth',
    'rest_framework',
    'corsheaders',
    'todo',
]

MIDDLEWARE = [
    # First: /health answers whatever the Host, and every response says the version.
    'todobackend.health.HealthMiddleware',
    'django.middleware.security.SecurityMiddleware',
    'corsheaders.middleware.CorsMiddleware',
    'django.middleware.common.CommonMiddleware',
]

ROOT_URLCONF = 'todobackend.urls'

WSGI_APPLICATION = 'todobackend.wsgi.application'

# `cargo xtask serve` keeps the database in a volume mounted at DJANGO_DATA_DIR.
DATA_DIR = Path(os.environ.get('DJANGO_DATA_DIR', BASE_DIR))

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': DATA_DIR / 'db.sqlite3',
    }
}

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'
USE_I18N = True
USE_TZ = True

DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

# Routes have no trailing slash (Todo-Backend spec), so don't redirect to one.
APPEND_SLASH = False

CORS_ALLOW_ALL_ORIGINS = True
# A page on another origin may read which version answered it.
CORS_EXPOSE_HEADERS = ['X-Todobackend-Version']

# The API is public: no authentication, JSON only.
REST_FRAMEWORK = {
    'DEFAULT_RENDERER_CLASSES': ['rest_framework.renderers.JSONRenderer'],
    'DEFAULT_AUTHENTICATION_CLASSES': [],
    'DEFAULT_PERMISSION_CLASSES': ['rest_framework.permissions.AllowAny'],
    'UNAUTHENTICATED_USER': None,
}

# `manage.py test` also writes JUnit XML to $REPORTS_DIR when it is set (the dev image sets
# it), for CI to archive.
if os.environ.get('REPORTS_DIR'):
    TEST_RUNNER = 'xmlrunner.extra.djangotestrunner.XMLTestRunner'
    TEST_OUTPUT_DIR = os.environ['REPORTS_DIR']
    TEST_OUTPUT_FILE_NAME = 'junit.xml'
