//! One direction of a connection: a fixed-size byte ring.

/// Bytes on their way to one socket.
pub(super) struct Pipe<const N: usize> {
    buf: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Pipe<N> {
    pub(super) const fn new() -> Self {
        Self {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }

    pub(super) const fn len(&self) -> usize {
        self.len
    }

    pub(super) const fn free(&self) -> usize {
        N - self.len
    }

    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Appends as much of `data` as fits; returns how much that was.
    pub(super) fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        // With `n == 0` the loop body never runs, so `N == 0` cannot divide by zero.
        for (k, &byte) in data.iter().take(n).enumerate() {
            self.buf[(self.head + self.len + k) % N] = byte;
        }
        self.len += n;
        n
    }

    /// Drops up to `n` bytes, oldest first; returns how many.
    pub(super) fn skip(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if N > 0 {
            self.head = (self.head + n) % N;
        }
        self.len -= n;
        n
    }

    /// Moves the newest `newer` bytes in front of the `older` bytes before them (a
    /// rotation of the pipe's last `older + newer` bytes, by three reversals).
    pub(super) fn swap_tail(&mut self, older: usize, newer: usize) {
        let total = older + newer;
        if total > self.len {
            return;
        }
        let start = self.len - total;
        self.reverse(start, start + older);
        self.reverse(start + older, start + total);
        self.reverse(start, start + total);
    }

    /// Reverses the bytes at logical positions `from..to` (0 is the oldest).
    fn reverse(&mut self, mut from: usize, mut to: usize) {
        while from + 1 < to {
            to -= 1;
            let (a, b) = ((self.head + from) % N, (self.head + to) % N);
            self.buf.swap(a, b);
            from += 1;
        }
    }

    /// Takes up to `out.len()` bytes, oldest first; returns how many.
    pub(super) fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        for slot in out.iter_mut().take(n) {
            *slot = self.buf[self.head];
            self.head = (self.head + 1) % N;
        }
        self.len -= n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_and_keeps_order() {
        let mut p: Pipe<4> = Pipe::new();
        assert_eq!(p.push(b"abc"), 3);
        let mut out = [0; 2];
        assert_eq!(p.pop(&mut out), 2);
        assert_eq!(&out, b"ab");
        assert_eq!(p.push(b"defg"), 3);
        assert_eq!(p.free(), 0);
        let mut out = [0; 8];
        assert_eq!(p.pop(&mut out), 4);
        assert_eq!(&out[..4], b"cdef");
    }

    #[test]
    fn the_newest_bytes_move_in_front_of_the_ones_before_them_across_the_wrap() {
        let mut p: Pipe<8> = Pipe::new();
        p.push(b"xyzw");
        p.skip(3);
        p.push(b"abcdefg");
        p.swap_tail(3, 4);
        let mut out = [0; 8];
        assert_eq!(p.pop(&mut out), 8);
        assert_eq!(&out, b"wdefgabc");
    }

    #[test]
    fn a_swap_longer_than_the_pipe_holds_changes_nothing() {
        let mut p: Pipe<4> = Pipe::new();
        p.push(b"ab");
        p.swap_tail(1, 2);
        let mut out = [0; 4];
        assert_eq!(p.pop(&mut out), 2);
        assert_eq!(&out[..2], b"ab");
    }

    #[test]
    fn zero_capacity_takes_nothing() {
        let mut p: Pipe<0> = Pipe::new();
        assert_eq!(p.push(b"x"), 0);
        assert_eq!(p.pop(&mut [0; 1]), 0);
    }
}
