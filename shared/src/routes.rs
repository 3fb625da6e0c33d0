//! Route tables. Each function publishes the routes it serves; the function
//! dispatches on them, the local stack uses them to pick a function, and the
//! infrastructure tests check API Gateway wires exactly these.

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
    Route(Route, Params),
    /// The path exists but not for this method; the methods it has.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

pub fn find(routes: &[Route], method: &Method, path: &str) -> Matched {
    let mut allowed = Vec::new();
    for route in routes {
        if let Some(params) = route.params(path) {
            if route.method == method.as_str() {
                return Matched::Route(*route, params);
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
        let Matched::Route(route, params) = find(ROUTES, &Method::GET, "/uploads/abc/errors")
        else {
            panic!("no match");
        };
        assert_eq!(route, Route::get("/uploads/{id}/errors"));
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
