//! One internal logging macro over `log` or `defmt`; without either feature it
//! expands to nothing, so the arguments cost no code.

macro_rules! trace_event {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "defmt")]
        defmt::$level!($($arg)+);
        #[cfg(all(feature = "log", not(feature = "defmt")))]
        log::$level!($($arg)+);
    }};
}

pub(crate) use trace_event;
