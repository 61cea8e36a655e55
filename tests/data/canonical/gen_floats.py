#!/usr/bin/python3
"""Regenerates floats.txt: '<IEEE bits as 16 hex digits> <repr(float)>' per line, for
test_canonical's repr check: random bit patterns, subnormals, powers of two and their
neighbours, short decimals. Run: /usr/bin/python3 gen_floats.py > floats.txt"""
import math, random, struct

random.seed(20261128)
vals = []
def bits(d): return struct.unpack('<Q', struct.pack('<d', d))[0]
def frombits(b): return struct.unpack('<d', struct.pack('<Q', b))[0]
while len(vals) < 1500:
    d = frombits(random.getrandbits(64))
    if math.isfinite(d): vals.append(d)
for _ in range(300): vals.append(frombits(random.getrandbits(52)))          # subnormals
for e in range(-1074, 1024, 7):
    p = math.ldexp(1.0, e)
    vals += [p, math.nextafter(p, 0), math.nextafter(p, math.inf)]
for _ in range(600): vals.append(round(random.random() * 10 ** random.randint(-7, 17), random.randint(0, 6)))
vals += [0.0, -0.0, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 1e16, 1e-5, 1e-4]
for d in vals:
    if math.isfinite(d): print('%016x %s' % (bits(d), repr(d)))
