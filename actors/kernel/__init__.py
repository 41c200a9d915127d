"""The kernel the actors run on: nothing here knows swarmpulse's domain.

- :mod:`actors.kernel.runtime`: a pooled runtime, many Pykka actors on a few threads;
- :mod:`actors.kernel.clock`: injected clocks (``SystemClock``, ``ManualClock``), timers, stalls;
- :mod:`actors.kernel.arrivals`: an inbox that stamps each message with its arrival;
- :mod:`actors.kernel.supervision`: restart intensity and redelivery of unhandled mail;
- :mod:`actors.kernel.allocator`: handing freed memory back to the OS after a burst.
"""
