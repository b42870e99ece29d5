// Signs a user in with real aws-amplify v6 against a Cognito user-pool endpoint (the local
// stack's emulator through Envoy) and prints, as JSON, what Amplify stored for the session.
// Driven by amplify_test.go; settings come from the environment:
//   AMPLIFY_ENDPOINT   userPoolEndpoint, e.g. http://127.0.0.1:8000/cognito-idp/
//   AMPLIFY_POOL_ID    the user pool id
//   AMPLIFY_CLIENT_ID  the app client id
//   AMPLIFY_USERNAME, AMPLIFY_PASSWORD
//
// In a browser, Amplify's CookieStorage writes each stored key as a cookie of that name. It needs
// document.cookie, which Node has not (and a stand-in document makes Amplify believe it is in a
// browser and fail on what else it looks for), so the session goes to a key-value storage that
// records Amplify's own keys and values instead; the test sends them as the cookies CookieStorage
// would have written.
import { Amplify } from "aws-amplify";
import { signIn } from "aws-amplify/auth";
import { cognitoUserPoolsTokenProvider } from "aws-amplify/auth/cognito";

const stored = new Map();
const recorder = {
  async setItem(key, value) { stored.set(key, value); },
  async getItem(key) { return stored.has(key) ? stored.get(key) : null; },
  async removeItem(key) { stored.delete(key); },
  async clear() { stored.clear(); },
};

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

Amplify.configure({
  Auth: {
    Cognito: {
      userPoolId: env("AMPLIFY_POOL_ID"),
      userPoolClientId: env("AMPLIFY_CLIENT_ID"),
      userPoolEndpoint: env("AMPLIFY_ENDPOINT"),
    },
  },
});
cognitoUserPoolsTokenProvider.setKeyValueStorage(recorder);

const result = await signIn({
  username: env("AMPLIFY_USERNAME"),
  password: env("AMPLIFY_PASSWORD"),
  options: { authFlowType: "USER_PASSWORD_AUTH" },
});
process.stdout.write(JSON.stringify({
  isSignedIn: result.isSignedIn,
  nextStep: result.nextStep.signInStep,
  stored: Object.fromEntries(stored),
}) + "\n");
