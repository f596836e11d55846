#!/usr/bin/env python3
"""Deterministic ~100 MB layer for the unpack benchmark (as in shared/reference/perf-anchors.md):
25 x 2 MiB random files, 400 x 100 KiB text files, 2500 x 4 KiB files, in nested directories.
Usage: mklayer.py OUT.tar   (then gzip -6 -n -k OUT.tar for the .tar.gz)"""
import io, random, sys, tarfile

def main(out):
    rnd = random.Random(20261125)
    words = [''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rnd.randint(2, 10))) for _ in range(5000)]
    def text(n):
        parts, size = [], 0
        while size < n:
            w = rnd.choice(words)
            parts.append(w)
            size += len(w) + 1
        return (' '.join(parts))[:n].encode()
    with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
        def add_dir(name):
            ti = tarfile.TarInfo(name); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = 1700000000
            t.addfile(ti)
        def add_file(name, data):
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
        add_dir('bin'); add_dir('data'); add_dir('share'); add_dir('etc')
        for i in range(25):
            add_file(f'bin/blob{i:02d}', rnd.randbytes(2 << 20))
        for d in range(20):
            add_dir(f'share/doc{d:02d}')
            for i in range(20):
                add_file(f'share/doc{d:02d}/page{i:02d}.txt', text(100 << 10))
        for d in range(50):
            add_dir(f'data/d{d:02d}')
            for i in range(50):
                add_file(f'data/d{d:02d}/f{i:02d}.conf', text(2 << 10) + rnd.randbytes(2 << 10))

if __name__ == '__main__':
    main(sys.argv[1])
