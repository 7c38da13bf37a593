//! brace's loader inside a real async-graphql schema: posts -> author ->
//! latest post -> author. The backend sees one batch call per table per
//! level, and, with the request-scoped cache, none for authors it already
//! has.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Request, Schema};
use brace::loader::{BatchFn, BatchLoader};

const POSTS: i32 = 20;
const AUTHORS: i32 = 5;

/// One batch call: the table and its keys (sorted).
type Call = (&'static str, Vec<i32>);

/// Every batch call the backend received.
#[derive(Clone, Default)]
struct Backend {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Backend {
    fn record(&self, table: &'static str, keys: &[i32]) {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        self.calls.lock().unwrap().push((table, keys));
    }

    fn calls_to(&self, table: &str) -> Vec<Vec<i32>> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

#[derive(Clone)]
struct Post {
    id: i32,
    author_id: i32,
}

#[derive(Clone)]
struct Author {
    id: i32,
    latest_post_id: i32,
}

/// Post `p` is by author `p % AUTHORS`; an author's latest post is the
/// last one they wrote.
fn post(id: i32) -> Post {
    Post {
        id,
        author_id: id % AUTHORS,
    }
}

struct PostsById(Backend);
struct AuthorsById(Backend);

impl BatchFn<i32> for PostsById {
    type Value = Post;
    type Error = Infallible;
    type Output = HashMap<i32, Post>;
    async fn load(&self, ids: &[i32]) -> Result<Self::Output, Infallible> {
        self.0.record("posts", ids);
        Ok(ids
            .iter()
            .filter(|&&id| id < POSTS)
            .map(|&id| (id, post(id)))
            .collect())
    }
}

impl BatchFn<i32> for AuthorsById {
    type Value = Author;
    type Error = Infallible;
    type Output = HashMap<i32, Author>;
    async fn load(&self, ids: &[i32]) -> Result<Self::Output, Infallible> {
        self.0.record("authors", ids);
        let latest = |id: i32| {
            (0..POSTS)
                .rev()
                .find(|p| p % AUTHORS == id)
                .expect("has posts")
        };
        Ok(ids
            .iter()
            .map(|&id| {
                (
                    id,
                    Author {
                        id,
                        latest_post_id: latest(id),
                    },
                )
            })
            .collect())
    }
}

/// The loaders of one request (request-scoped: cache on, dropped with it).
struct Loaders {
    posts: BatchLoader<i32, PostsById>,
    authors: BatchLoader<i32, AuthorsById>,
}

impl Loaders {
    fn for_request(backend: &Backend) -> Self {
        Loaders {
            posts: BatchLoader::builder(PostsById(backend.clone()))
                .cache(true)
                .build()
                .unwrap(),
            authors: BatchLoader::builder(AuthorsById(backend.clone()))
                .cache(true)
                .build()
                .unwrap(),
        }
    }
}

struct Query;

#[Object]
impl Query {
    async fn posts(&self) -> Vec<Post> {
        (0..POSTS).map(post).collect()
    }
}

#[Object]
impl Post {
    async fn id(&self) -> i32 {
        self.id
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Author>> {
        let loaders = ctx.data::<Loaders>()?;
        Ok(loaders.authors.load(self.author_id).await?)
    }
}

#[Object]
impl Author {
    async fn id(&self) -> i32 {
        self.id
    }

    async fn latest_post(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Post>> {
        let loaders = ctx.data::<Loaders>()?;
        Ok(loaders.posts.load(self.latest_post_id).await?)
    }
}

fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::new(Query, EmptyMutation, EmptySubscription)
}

const NESTED: &str = "{ posts { id author { id latestPost { id author { id } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_query_makes_one_batch_call_per_table_and_level() {
    let backend = Backend::default();
    let schema = schema();
    let response = schema
        .execute(Request::new(NESTED).data(Loaders::for_request(&backend)))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    let posts = data["posts"].as_array().unwrap();
    assert_eq!(posts.len(), POSTS as usize);
    assert_eq!(
        data["posts"][7]["author"],
        serde_json::json!({"id": 2, "latestPost": {"id": 17, "author": {"id": 2}}})
    );
    // Level 2: the 5 distinct authors, once. Level 3: their latest posts.
    // Level 4: the same authors again, answered by the request's cache.
    assert_eq!(backend.calls_to("authors"), vec![vec![0, 1, 2, 3, 4]]);
    assert_eq!(backend.calls_to("posts"), vec![vec![15, 16, 17, 18, 19]]);
}

#[tokio::test]
async fn each_request_gets_fresh_loaders() {
    let backend = Backend::default();
    let schema = schema();
    for _ in 0..2 {
        let request =
            Request::new("{ posts { author { id } } }").data(Loaders::for_request(&backend));
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        assert_eq!(
            response.data.into_json().unwrap()["posts"][3],
            serde_json::json!({"author": {"id": 3}})
        );
    }
    assert_eq!(backend.calls_to("authors").len(), 2, "one call per request");
}
