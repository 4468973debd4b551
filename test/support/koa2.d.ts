// The Koa 2 copy installed under the alias `koa2` for the compatibility runs shares Koa 3's typings.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
