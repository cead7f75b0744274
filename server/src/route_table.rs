//! The table each router is built from, and the list of what it serves
//! that comes from the same table ([`route_table!`]), so the list the OpenAPI
//! document is checked against cannot drift from the router.

/// What a router serves: each path with its methods (lower case), from the
/// same table as the router itself ([`route_table!`]).
pub(crate) type RouteList = &'static [(&'static [&'static str], &'static str)];

/// A router and the list of what it serves, from one table:
/// `route_table! { "/path" => post(handler).get(other), ... }`.
macro_rules! route_table {
    ($($path:literal => $method:ident($handler:expr) $(.$more:ident($more_handler:expr))*),* $(,)?) => {
        (
            axum::Router::new()
                $(.route($path, axum::routing::$method($handler) $(.$more($more_handler))*))*,
            {
                const SERVED: $crate::route_table::RouteList =
                    &[$((&[stringify!($method) $(, stringify!($more))*], $path)),*];
                SERVED
            },
        )
    };
}
pub(crate) use route_table;
