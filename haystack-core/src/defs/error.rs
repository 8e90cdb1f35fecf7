//! [`DefError`]: why a set of def libraries does not make a namespace.

/// Why def records could not be compiled into a [`crate::defs::Namespace`] (the checks of the
/// Normalization chapter). Each variant names the def (symbol without `^`) it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefError {
    /// A lib's records have no `def: ^lib:<name>` meta record.
    #[error("lib has no meta record (a def named ^lib:<name>); its defs start with ^{first_def}")]
    MissingLibMeta {
        /// The first def of the records given for the lib.
        first_def: String,
    },
    /// A lib depends on a lib that is not in the namespace.
    #[error("^{lib} depends on ^{missing}, which is not in the namespace")]
    MissingLib {
        /// The lib whose `depends` names the missing lib.
        lib: String,
        /// The missing lib.
        missing: String,
    },
    /// Two records define the same symbol (in one lib or in two).
    #[error("^{symbol} is defined twice (in ^{first_lib} and in ^{second_lib})")]
    DuplicateDef {
        /// The symbol.
        symbol: String,
        /// The lib of the first definition.
        first_lib: String,
        /// The lib of the second definition.
        second_lib: String,
    },
    /// An `is` names a def that is not in the lib's namespace.
    #[error("^{def} is ^{supertype}, which is not defined in the namespace of ^{lib}")]
    UnknownSupertype {
        /// The def.
        def: String,
        /// The unknown supertype.
        supertype: String,
        /// The def's lib.
        lib: String,
    },
    /// Subtyping loops back on itself; `path` starts and ends with the same def.
    #[error("subtyping cycle: ^{}", path.join(" is ^"))]
    Cycle {
        /// The defs around the cycle, e.g. `[a, b, a]` for `a is b`, `b is a`.
        path: Vec<String>,
    },
    /// A tag name or a symbol value of a def that is not defined in its lib's namespace
    /// (the lib itself and the libs it depends on directly).
    #[error("^{def}: {what} ^{symbol} is not defined in the namespace of ^{lib}")]
    Unresolved {
        /// The def (or defx) using the symbol.
        def: String,
        /// `tag` or `value of <tag>`.
        what: String,
        /// The unresolved symbol.
        symbol: String,
        /// The def's lib.
        lib: String,
    },
    /// A def record breaks one of the chapter's rules (the message says which).
    #[error("^{def}: {message}")]
    Invalid {
        /// The def (or `?` for a record without a `def`).
        def: String,
        /// What is wrong.
        message: String,
    },
}

impl DefError {
    pub(crate) fn invalid(def: &str, message: impl Into<String>) -> Self {
        DefError::Invalid {
            def: def.to_owned(),
            message: message.into(),
        }
    }
}
