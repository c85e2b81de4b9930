/**
 * stories260K's documented greedy output (public/models/stories260K/README.md): 40 new
 * tokens after "Once upon a time". Unit and browser tests both check the driver against it.
 */
export const STORY_PROMPT = 'Once upon a time';
export const STORY_REFERENCE =
  ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';
export const STORY_REFERENCE_TOKENS = 40;
