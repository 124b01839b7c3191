//! [`Notify`]: one future waits until another part of the same task says so.

use core::cell::Cell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

/// A flag with one waiter, for futures joined in one task (so no lock is needed):
/// notifications before the wait are not lost, and several count as one.
#[derive(Default)]
pub(crate) struct Notify {
    set: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Notify {
    pub(crate) fn notify(&self) {
        self.set.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Returns once a notification came since the last wait returned.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.replace(false) {
                return Poll::Ready(());
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::future::Future;
    use core::pin::pin;
    use core::task::Context;

    #[test]
    fn a_notification_before_the_wait_is_kept_and_several_count_once() {
        let notify = Notify::default();
        let mut cx = Context::from_waker(Waker::noop());
        notify.notify();
        notify.notify();
        assert_eq!(pin!(notify.wait()).poll(&mut cx), Poll::Ready(()));
        let mut second = pin!(notify.wait());
        assert_eq!(second.as_mut().poll(&mut cx), Poll::Pending);
        notify.notify();
        assert_eq!(second.poll(&mut cx), Poll::Ready(()));
    }
}
