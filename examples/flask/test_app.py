"""Unit tests of the header reading, run by testenv/e2e/flask_test.go (python3 -m unittest).

The end-to-end test there checks the app behind a real Envoy; these cover what a header can say
that the local issuer does not easily produce: encoded group names, repeated or empty headers.
"""

import unittest

from app import app


def feed(headers):
    return app.test_client().get("/api/activities/home", headers=headers).get_json()


class ClaimsFromHeaders(unittest.TestCase):
    def test_group_names_are_decoded_one_by_one(self):
        got = feed([("x-auth-status", "authenticated"), ("x-user-sub", "s1"),
                    ("x-user-groups", "admin,ops%2Ceu,100%25%20sure")])
        self.assertEqual(got["user"]["cognito:groups"], ["admin", "ops,eu", "100% sure"])

    def test_no_groups_header_is_no_groups(self):
        got = feed([("x-auth-status", "authenticated"), ("x-user-sub", "s1")])
        self.assertEqual(got["user"]["cognito:groups"], [])

    def test_ambiguous_identity_is_anonymous(self):
        cases = {
            "no status": [("x-user-sub", "s1")],
            "anonymous status": [("x-auth-status", "anonymous"), ("x-user-sub", "s1")],
            "repeated status": [("x-auth-status", "authenticated"), ("x-auth-status", "authenticated"),
                                ("x-user-sub", "s1")],
            "repeated sub": [("x-auth-status", "authenticated"), ("x-user-sub", "s1"), ("x-user-sub", "s2")],
            "empty sub": [("x-auth-status", "authenticated"), ("x-user-sub", "")],
            "no sub": [("x-auth-status", "authenticated")],
        }
        for name, headers in cases.items():
            with self.subTest(name):
                got = feed(headers)
                self.assertIsNone(got["user"])
                self.assertFalse(any(item["private"] for item in got["activities"]))

    def test_admin_needs_the_group(self):
        client = app.test_client()
        plain = [("x-auth-status", "authenticated"), ("x-user-sub", "s1"), ("x-user-groups", "administrators")]
        admin = [("x-auth-status", "authenticated"), ("x-user-sub", "s2"), ("x-user-groups", "ops,admin")]
        self.assertEqual(client.get("/api/admin").status_code, 401)
        self.assertEqual(client.get("/api/admin", headers=plain).status_code, 403)
        self.assertEqual(client.get("/api/admin", headers=admin).status_code, 200)


if __name__ == "__main__":
    unittest.main()
