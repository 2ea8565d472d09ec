"""A real S3-compatible server for walvault's tests: moto on a loopback port, with SigV4 checked.

moto verifies signatures only after INITIAL_NO_AUTH_ACTION_COUNT unauthenticated actions; they are
spent here creating an IAM user with an allow-all policy, its access key and the bucket, so every
request walvault makes afterwards is checked against that key. Prints one JSON line
(endpoint, bucket, access key id, secret) and serves until killed.
"""
import json, os, sys

SETUP_ACTIONS = 5
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_ACTIONS)
os.environ.setdefault("AWS_ACCESS_KEY_ID", "setup")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "setup")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3
import botocore.auth
from urllib.parse import quote, unquote


def _canonical_query_as_aws_computes_it(self, parts):
    """moto checks a signature by handing botocore the URL werkzeug rebuilt, in which '%2F' has
    become '/', so any signed query holding a '/' (every S3 listing with a prefix or delimiter)
    fails, boto3's own included. AWS canonicalises from the decoded parameters; so does this."""
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        key, _, value = pair.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


botocore.auth.SigV4Auth._canonical_query_string_url = _canonical_query_as_aws_computes_it
import logging
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)

bucket = sys.argv[1] if len(sys.argv) > 1 else "walvault-test"
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
endpoint = f"http://{host}:{port}"

iam = boto3.client("iam", endpoint_url=endpoint)
iam.create_user(UserName="walvault")                                    # 1
policy = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps({  # 2
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
iam.attach_user_policy(UserName="walvault", PolicyArn=policy["Policy"]["Arn"])  # 3
key = iam.create_access_key(UserName="walvault")["AccessKey"]            # 4
boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)   # 5

# From here on every request is checked. A second user may only read, so that a denied write
# can be tested (created with the first user's key, as an administrator would).
admin = boto3.client("iam", endpoint_url=endpoint, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
admin.create_user(UserName="reader")
read_only = admin.create_policy(PolicyName="read-only", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}))
admin.attach_user_policy(UserName="reader", PolicyArn=read_only["Policy"]["Arn"])
reader = admin.create_access_key(UserName="reader")["AccessKey"]

print(json.dumps({"endpoint": endpoint, "bucket": bucket, "region": "us-east-1",
                  "access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
                  "reader_access_key_id": reader["AccessKeyId"], "reader_secret_access_key": reader["SecretAccessKey"]}), flush=True)
# Serve until whoever started us goes away (its end of our stdin closes), so a test run that
# ends, or dies, never leaves a server behind.
try:
    sys.stdin.buffer.read()
finally:
    os._exit(0)
