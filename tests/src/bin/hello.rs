//! A trivial binary that prints one line: the reference `panechat-bench` compares the whole-process
//! cost of `panechat status` with.

fn main() {
    println!("hello");
}
