"""A WSGI app on Python's wsgiref that answers every request with the HTTP_* variables it sees.

wsgiref, like CGI-style servers and Flask on them, folds '_' and '-' in header names into one
variable: x_user_sub and x-user-sub both become HTTP_X_USER_SUB. The Envoy tests put it behind a
real Envoy to check that no look-alike of an identity header reaches such an app. Standard
library only. Prints the port it listens on (on 127.0.0.1, chosen by the kernel), then serves.
"""

import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
print(server.server_port, flush=True)
sys.stdout.close()
server.serve_forever()
