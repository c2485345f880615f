import os

from django.core.wsgi import get_wsgi_application

# A web process answers many requests at once, so a request's FAISS search gains little from an
# OpenMP team, and the team's idle threads spin on the cores the other requests need: a
# similar-images request cost 19.7 ms of CPU with two threads, 13.3 with one (PostgreSQL, 1,500
# images, 2 cores). OpenMP reads this when it loads, so it holds for servers that import this module
# before the app (waitress in `serve`, gunicorn), not for `runserver`, whose checks load faiss
# first. A value the machine sets is kept; the worker (big searches, k-means) keeps every core.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faune_platform.settings.base")
application = get_wsgi_application()
