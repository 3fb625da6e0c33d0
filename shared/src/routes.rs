//! Route tables. Each function declares its operations with [`operations!`]:
//! an enum with one variant per route, from which its route table is made.
//! The function `match`es the enum (so a route without a handler does not
//! compile), the local stack uses the table to pick a function, and the
//! infrastructure tests check API Gateway wires exactly these routes.

use http::Method;

/// A method and a path template in API Gateway's syntax (`/uploads/{id}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

impl Route {
    pub const fn get(path: &'static str) -> Self {
        Self {
            method: "GET",
            path,
        }
    }

    pub const fn post(path: &'static str) -> Self {
        Self {
            method: "POST",
            path,
        }
    }

    pub const fn delete(path: &'static str) -> Self {
        Self {
            method: "DELETE",
            path,
        }
    }

    /// API Gateway's route key, `GET /uploads/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether `path` fits this route's template.
    pub fn fits(&self, path: &str) -> bool {
        self.params(path).is_some()
    }

    /// The path parameters when `path` fits this route's template.
    fn params(&self, path: &str) -> Option<Params> {
        let mut template = self.path.split('/');
        let mut actual = path.split('/');
        let mut params = Params::default();
        loop {
            match (template.next(), actual.next()) {
                (None, None) => return Some(params),
                (Some(t), Some(a)) => match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(name) if !a.is_empty() => params.0.push((name, a.to_string())),
                    Some(_) => return None,
                    None if t == a => {}
                    None => return None,
                },
                _ => return None,
            }
        }
    }
}

/// A function's operations, one per route of [`Operation::ROUTES`].
pub trait Operation: Copy + Send + 'static {
    /// The route table, in the order of [`Operation::ALL`].
    const ROUTES: &'static [Route];
    const ALL: &'static [Self];
}

/// No operations at all: serving it answers every path with the API's 404
/// (the local stack's answer for a path no function owns).
#[derive(Clone, Copy, Debug)]
pub enum NoOperation {}

impl Operation for NoOperation {
    const ROUTES: &'static [Route] = &[];
    const ALL: &'static [Self] = &[];
}

/// Declares a function's operations and their routes:
///
/// ```
/// flux_shared::operations! {
///     pub enum Operation {
///         List => get "/things",
///         Show => get "/things/{id}",
///     }
/// }
/// ```
#[macro_export]
macro_rules! operations {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $method:ident $path:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $crate::routes::Operation for $name {
            const ROUTES: &'static [$crate::routes::Route] =
                &[$($crate::routes::Route::$method($path)),+];
            const ALL: &'static [Self] = &[$(Self::$variant),+];
        }
    };
}

/// Path parameters, by template name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Matched {
    /// The index of the route in the table, and its parameters.
    Route(usize, Params),
    /// The path exists but not for this method; the methods it has.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

pub fn find(routes: &[Route], method: &Method, path: &str) -> Matched {
    let mut allowed = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        if let Some(params) = route.params(path) {
            if route.method == method.as_str() {
                return Matched::Route(index, params);
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[Route] = &[
        Route::get("/uploads"),
        Route::post("/uploads"),
        Route::get("/uploads/{id}"),
        Route::get("/uploads/{id}/errors"),
    ];

    #[test]
    fn templates_match_whole_segments() {
        let Matched::Route(index, params) = find(ROUTES, &Method::GET, "/uploads/abc/errors")
        else {
            panic!("no match");
        };
        assert_eq!(ROUTES[index], Route::get("/uploads/{id}/errors"));
        assert_eq!(params.get("id"), Some("abc"));
        assert_eq!(find(ROUTES, &Method::GET, "/uploads/"), Matched::NotFound);
        assert_eq!(find(ROUTES, &Method::GET, "/uploadsx"), Matched::NotFound);
        assert_eq!(
            find(ROUTES, &Method::GET, "/uploads/a/b"),
            Matched::NotFound
        );
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        assert_eq!(
            find(ROUTES, &Method::DELETE, "/uploads"),
            Matched::MethodNotAllowed(vec!["GET", "POST"])
        );
        assert_eq!(Route::get("/uploads/{id}").key(), "GET /uploads/{id}");
    }
}
