"""moto's server (SQS + SNS) with one fix: ReceiveMessage picks its messages atomically.

moto 5.x scans a queue for visible messages and marks each one received without holding the
queue's lock, and its server answers each request on its own thread. Two ReceiveMessage calls on
one queue can therefore both take the same message: a FIFO queue, which on AWS hands a message to
one consumer at a time, then delivers it twice with no visibility timeout run out (seen in CI with
ten members of one group; specs/sqs.moto-receive.spec.ts checks it with the raw client).

The fix runs each scan (moto's own receive with no wait) under the queue's lock and does the long
poll between scans, outside it: waiting on the queue's Condition as moto does, so a message sent
meanwhile wakes the poll. Run exactly like moto_server: python moto_server.py -H HOST -p PORT.
"""

import sys
import time

from moto.server import main
from moto.sqs import models

_receive_message = models.SQSBackend.receive_message


def _atomic_receive_message(
    self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None
):
    queue = self.get_queue(queue_name)
    end = time.monotonic() + wait_seconds_timeout
    while True:
        with queue._messages_lock:
            result = _receive_message(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        left = end - time.monotonic()
        if result or left <= 0:
            return result
        # returns at once while visible messages wait behind a FIFO group in flight: pause briefly
        # then, rather than spin (moto's own loop spins)
        started = time.monotonic()
        queue.wait_for_messages(min(1.0, left))
        if time.monotonic() - started < 0.01:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))


models.SQSBackend.receive_message = _atomic_receive_message

if __name__ == "__main__":
    sys.exit(main())
