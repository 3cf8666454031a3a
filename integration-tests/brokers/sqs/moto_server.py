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

moto also forgets a FIFO deduplication id once its message is deleted: it compares a new message
only with those still in the queue. On AWS a message sent again with the same deduplication id
within 5 minutes is accepted and not delivered, deleted or not (SQS Developer Guide, "Using the
message deduplication ID"), which is what makes an SDK retry of a SendMessageBatch whose first
attempt was stored (a reset socket under load) harmless; on moto the retry re-delivered every
message of the batch already consumed (CI: the same test saw one message handled twice with
nothing failed after the locks above). specs/sqs.test-broker.spec.ts checks both, raw client.

The fix holds the queue's own lock (a Condition over an RLock) around each of these operations. A
receive runs moto's own receive with no wait under the lock (one scan) and does the long poll
between scans, outside it, waiting on the queue's Condition as moto does, so a message sent
meanwhile wakes the poll. Run exactly like moto_server: python moto_server.py -H HOST -p PORT.
"""

import functools
import sys
import time
from collections import OrderedDict

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


_add_message = models.Queue.add_message
_DEDUPLICATION_MS = models.DEDUPLICATION_TIME_IN_SECONDS * 1000


def _deduplicated_add_message(self, message):
    """Queue.add_message that remembers each FIFO deduplication id for 5 minutes from its first send,
    deleted or not, per queue (or per message group with DeduplicationScope=messageGroup)."""
    with self._messages_lock:
        if self.fifo_queue and message.deduplication_id:
            seen = self.__dict__.setdefault("_carrier_deduplication", OrderedDict())
            now = message.sent_timestamp
            # ids in the order first sent: the expired ones are at the front
            while seen and now - next(iter(seen.values())) >= _DEDUPLICATION_MS:
                seen.popitem(last=False)
            scope = self.attributes.get("DeduplicationScope")
            key = (message.group_id if scope == "messageGroup" else None, message.deduplication_id)
            if key in seen:
                return
            seen[key] = now
        _add_message(self, message)


models.SQSBackend.receive_message = _atomic_receive_message
models.SQSBackend.change_message_visibility = _under_named_queue_lock(
    models.SQSBackend.change_message_visibility
)
models.Queue.delete_message = _under_queue_lock(models.Queue.delete_message)
models.Queue.add_message = _deduplicated_add_message

if __name__ == "__main__":
    sys.exit(main())
