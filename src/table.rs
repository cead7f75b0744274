//! The macro behind the crate's numbered tables ([`Code`](crate::Code),
//! [`Status`](crate::Status)). It depends on nothing, so the modules that
//! use it import nothing back.

/// Declares an enum of stable numbers from one table: each row gives the
/// variant and its number, its snake_case name and the name of its constant
/// in the C header, with its doc comment. Makes the enum (`#[repr(u32)]`,
/// `#[non_exhaustive]`), `ALL`, `name`, `c_name`, `description`,
/// `from_u32` and `Display` (the name). [`Code`](crate::Code) and
/// [`Status`](crate::Status) are made with it.
macro_rules! numbered_table {
    (
        $(#[$meta:meta])*
        pub enum $enum:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $num:literal, $name:literal, $c_name:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        #[repr(u32)]
        pub enum $enum {
            $( $(#[doc = $doc])* $variant = $num, )*
        }

        impl $enum {
            /// Every value, in the order of their numbers.
            pub const ALL: &'static [$enum] = &[$($enum::$variant),*];

            /// The stable snake_case name.
            pub fn name(self) -> &'static str {
                match self { $($enum::$variant => $name,)* }
            }

            /// The name of the constant in the C header.
            pub fn c_name(self) -> &'static str {
                match self { $($enum::$variant => $c_name,)* }
            }

            /// What the value means (the C header's comment).
            pub fn description(self) -> &'static str {
                match self { $($enum::$variant => concat!($($doc, "\n"),*),)* }
            }

            /// The value with this number, if there is one.
            pub fn from_u32(number: u32) -> Option<$enum> {
                $enum::ALL.iter().copied().find(|v| *v as u32 == number)
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use numbered_table;
