#!/usr/bin/python3
"""The write-up's Tornado server, the peer reclaimd is measured against.

Routes, as reclaimd serves them:
  GET /             "Hello, world"
  GET /seed/leaky   the write-up's handler: a Runner drives the handler's
                    generator; the Task it yields holds the 20 MB payload and
                    a reference back to the Runner (Task.runner), and the
                    Runner keeps the Task as its yield_point after finishing.
                    Runner <-> Task is a cycle that only the collector frees.
  GET /seed/fixed   the write-up's fix: a direct call with a callback, no
                    Runner, no Task, no cycle.
  ?mb=N changes the 20 MB payload.

Tornado 6 has no gen.Task and no gen.engine, so the Runner/Task pair of
Tornado 3.1 (tornado/gen.py, as the write-up reads it) is written out here.

usage: tornado_seed.py PORT
"""
import sys

from tornado import ioloop, web

MEGABYTE_STRING = "0123456789abcdef" * 64 * 1024


class Task:
    """gen.Task: a yield point that runs func(*args, callback=...)."""

    def __init__(self, func, *args):
        self.func = func
        self.args = args
        self.runner = None

    def start(self, runner):
        self.runner = runner  # Task -> Runner
        self.func(*self.args, callback=self.done)

    def done(self):
        self.runner.run()


class Runner:
    """gen.Runner: drives a generator from one yield point to the next."""

    def __init__(self, gen):
        self.gen = gen
        self.yield_point = None
        self.finished = False

    def run(self):
        try:
            yielded = self.gen.send(None)
        except StopIteration:
            # The write-up's leak: finished, but yield_point is kept.
            self.finished = True
            return
        self.yield_point = yielded  # Runner -> Task
        yielded.start(self)


def payload_mb(handler):
    try:
        return max(0, min(int(handler.get_argument("mb", "20")), 512))
    except ValueError:
        raise web.HTTPError(400)


class HelloHandler(web.RequestHandler):
    def get(self):
        self.write("Hello, world")


class LeakyHandler(web.RequestHandler):
    def get(self):
        Runner(self.body(payload_mb(self))).run()

    def body(self, mb):
        self.write("Hello, world<br>")
        yield Task(self.some_task, MEGABYTE_STRING * mb)
        self.finish()

    def some_task(self, bigdata, callback):
        self.write("some task<br>")
        callback()


class FixedHandler(web.RequestHandler):
    def get(self):
        self.write("Hello, world<br>")
        self.some_task(MEGABYTE_STRING * payload_mb(self), self.finish)

    def some_task(self, bigdata, callback):
        self.write("some task<br>")
        callback()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    app = web.Application([
        (r"/", HelloHandler),
        (r"/seed/leaky", LeakyHandler),
        (r"/seed/fixed", FixedHandler),
    ])
    app.listen(port, address="127.0.0.1")
    print("tornado listening on 127.0.0.1:%d" % port, flush=True)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
