// The migrations are embedded at compile time: rebuild when one is added or
// changed, which cargo cannot see by itself.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
