//! One internal logging macro over `log` or `defmt`; without either feature its
//! arguments are type-checked and never evaluated, so they cost no code. The two loggers exclude each
//! other, as in smoltcp: a firmware links one.

use core::fmt;

#[cfg(all(feature = "log", feature = "defmt"))]
compile_error!("features `log` and `defmt` exclude each other: enable one logger");

macro_rules! trace_event {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "defmt")]
        defmt::$level!($($arg)+);
        #[cfg(feature = "log")]
        log::$level!($($arg)+);
        // Without a logger the arguments are still "used", never evaluated.
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        if false {
            let _ = core::format_args!($($arg)+);
        }
    }};
}

pub(crate) use trace_event;

/// A value logged through its `Debug` form with either logger (`defmt` gets it
/// through `Debug2Format`), for errors of generic types such as a stack's.
#[cfg_attr(not(any(feature = "log", feature = "defmt")), allow(dead_code))]
pub(crate) struct Dbg<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: fmt::Debug + ?Sized> fmt::Debug for Dbg<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl<T: fmt::Debug + ?Sized> defmt::Format for Dbg<'_, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Debug2Format(self.0));
    }
}

#[cfg(any(feature = "smoltcp", feature = "at"))]
/// A failed call of an adapter: logged at debug level with the error's value, and
/// returned as `nb::Error::Other`.
pub(crate) fn fail<T, E: fmt::Debug>(error: E) -> nb::Result<T, E> {
    trace_event!(debug, "stack call failed: {:?}", Dbg(&error));
    Err(nb::Error::Other(error))
}
