"""moto_server as scripts/test runs it: moto's own server application, with every DynamoDB
request handled under one lock.

Real DynamoDB applies a conditional write atomically: the condition is checked and the item
written in one step. moto's threaded server checks a ConditionExpression and then writes the
item without a lock, so two concurrent conditional writes of one item can both succeed, and a
read-modify-write test (cart-core's `concurrent_modify_loses_nothing`) sees a lost update that
DynamoDB never produces. DynamoDB requests never long-poll, so running them one at a time costs
little; S3 and SQS requests (SQS's ReceiveMessage long-polls) stay concurrent.

Usage: python moto_server.py HOST PORT
"""

import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def atomic_dynamodb(app):
    """Wraps a WSGI app: DynamoDB requests (JSON protocol, `X-Amz-Target: DynamoDB_...`) run
    one at a time, their response bodies produced inside the lock."""
    lock = threading.Lock()

    def wrapped(environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    return wrapped


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        atomic_dynamodb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
