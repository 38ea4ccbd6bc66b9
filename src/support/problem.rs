//! Errors that one sentence for the user describes completely, each of its own named kind, so a
//! signature says what can go wrong (`Result<Recipe, RecipeError>`) and only `main` turns it
//! into a message and an exit code.

/// Declares a `thiserror` error type holding the sentence for the user.
#[macro_export]
macro_rules! sentence_error {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("{0}")]
        pub struct $name(pub String);

        impl From<String> for $name {
            fn from(sentence: String) -> Self {
                Self(sentence)
            }
        }

        impl From<&str> for $name {
            fn from(sentence: &str) -> Self {
                Self(sentence.to_string())
            }
        }

        /// The sentence, for matching and printing.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(error: $name) -> String {
                error.0
            }
        }
    };
}

/// Every problem a check found, each one sentence, so the user can fix them all in one go.
/// Shown one per line; derefs to the list for callers that lay them out otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct Problems(pub Vec<String>);

impl Problems {
    /// `Ok(())` when nothing was found, otherwise the problems.
    pub fn into_result(self) -> Result<(), Problems> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<Vec<String>> for Problems {
    fn from(problems: Vec<String>) -> Self {
        Self(problems)
    }
}

impl std::ops::Deref for Problems {
    type Target = Vec<String>;
    fn deref(&self) -> &Vec<String> {
        &self.0
    }
}
