"""The seed's Flask API, migrated behind Envoy + cognito-authz.

The seed verified Cognito JWTs in its handlers. Here Envoy asks cognito-authz about every request
and passes the verdict on in headers, so the app reads `x-auth-status` and `x-user-*` and never
parses a token. It can trust them because cognito-authz removes every such header a client sent, on
every path; the app must therefore be reachable only through Envoy (bind it to loopback or a
private network). README.md beside this file shows the code before and after.

Run: HOST=127.0.0.1 PORT=5000 python3 app.py (Flask's development server; use a production WSGI
server such as gunicorn in production).
"""

import os
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from flask import Flask, jsonify, request

app = Flask(__name__)


def claims_from_headers(headers):
    """The caller Envoy vouched for, or None when anonymous.

    Takes the place of verifying the JWT, and returns the claims the handlers used under the same
    names, so they need no change. Anything ambiguous is anonymous: the app fails closed. WSGI
    joins the values of a repeated header with commas, so a comma in the status or the sub (a
    UUID) means the header came twice. Group names are comma-separated, each with `,` `%` and
    whitespace inside the name percent-encoded (docs/reference.md), hence unquote per item.
    """
    status = headers.get("x-auth-status")
    sub = headers.get("x-user-sub", "")
    if status != "authenticated" or not sub or "," in sub:
        return None
    groups = headers.get("x-user-groups", "")
    return {
        "sub": sub,
        "username": headers.get("x-user-name", ""),
        "cognito:groups": [unquote(g) for g in groups.split(",")] if groups else [],
    }


def public_activities(now):
    return [
        {"uuid": "68f126b0-1ceb-4a33-88be-d90fa7109eee", "handle": "andrew",
         "message": "Cloud is fun!", "created_at": (now - timedelta(days=2)).isoformat(),
         "expires_at": (now + timedelta(days=5)).isoformat(), "likes_count": 5, "private": False},
        {"uuid": "66e12864-8c26-4c3a-9658-95a10f8fea67", "handle": "worf",
         "message": "This post has no honor!", "created_at": (now - timedelta(days=1)).isoformat(),
         "expires_at": (now + timedelta(days=10)).isoformat(), "likes_count": 0, "private": False},
    ]


def data_home(claims):
    """The home feed: public items for everyone, plus the caller's own when signed in.

    claims is None for an anonymous caller, as in the seed, where a missing or bad token made it so.
    """
    now = datetime.now(timezone.utc).replace(microsecond=0)
    items = public_activities(now)
    if claims is not None:
        handle = claims["username"] or claims["sub"]
        items.insert(0, {
            "uuid": "own-" + claims["sub"], "handle": handle,
            "message": f"Private draft of {handle}: only you can see this.",
            "created_at": (now - timedelta(minutes=30)).isoformat(),
            "expires_at": (now + timedelta(days=3)).isoformat(),
            "likes_count": 0, "private": True,
        })
    return items


@app.route("/api/activities/home", methods=["GET"])
def home():
    claims = claims_from_headers(request.headers)
    return jsonify({
        "auth_status": "authenticated" if claims else "anonymous",
        "user": claims,
        "activities": data_home(claims),
    })


@app.route("/api/admin", methods=["GET"])
def admin():
    # Envoy's route already requires group admin (context_extensions groups: admin); checking here
    # too keeps the endpoint closed if it is ever routed without that.
    claims = claims_from_headers(request.headers)
    if claims is None:
        return jsonify({"error": "unauthenticated"}), 401
    if "admin" not in claims.get("cognito:groups", []):
        return jsonify({"error": "forbidden"}), 403
    return jsonify({"admin": True, "user": claims})


@app.route("/healthz", methods=["GET"])
def healthz():
    return jsonify({"status": "ok"})


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")))
