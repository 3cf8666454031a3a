"""moto's server (SQS + SNS) with its queue operations made atomic.

moto 5.x answers each request on its own thread, and its SQS queues change their message list
without holding the queue's lock:
- ReceiveMessage scans for visible messages and marks each one received unlocked, so two receives
  can both take the same message;
- DeleteMessage rebuilds the message list from a copy and assigns it back, so of two deletes at
  once one can bring back the message the other removed, and that message is delivered again once
  its visibility timeout runs out, though it was deleted;
- ChangeMessageVisibility and SendMessage race with both.
On AWS a deleted message stays deleted, and a FIFO queue hands a message to one consumer at a
time; CI saw moto break both ("many members of one group on one connection": a message handled
twice with nothing failed). soak/sqs.moto-receive.soak.spec.ts checks it with the raw client (`npm run soak -- moto-receive`).

The fix holds the queue's own lock (a Condition over an RLock) around each of these operations. A
receive runs moto's own receive with no wait under the lock (one scan) and does the long poll
between scans, outside it, waiting on the queue's Condition as moto does, so a message sent
meanwhile wakes the poll. Run exactly like moto_server: python moto_server.py -H HOST -p PORT.
"""

import functools
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


def _under_queue_lock(method):
    """A Queue method that runs holding the queue's lock (re-entrant: add_message takes it too)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._messages_lock:
            return method(self, *args, **kwargs)

    return locked


def _under_named_queue_lock(method):
    """An SQSBackend method whose first argument is a queue name, run holding that queue's lock."""

    @functools.wraps(method)
    def locked(self, queue_name, *args, **kwargs):
        with self.get_queue(queue_name)._messages_lock:
            return method(self, queue_name, *args, **kwargs)

    return locked


models.SQSBackend.receive_message = _atomic_receive_message
models.SQSBackend.change_message_visibility = _under_named_queue_lock(
    models.SQSBackend.change_message_visibility
)
models.Queue.delete_message = _under_queue_lock(models.Queue.delete_message)
models.Queue.add_message = _under_queue_lock(models.Queue.add_message)

if __name__ == "__main__":
    sys.exit(main())
